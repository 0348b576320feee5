//! Program output and rinit's own output (docs/output.md): a bounded,
//! never-blocking writer for rinit's stdout/stderr (`writer`), per-program
//! pipes read in the poll loop when something needs to see the bytes
//! (`capture`), supervisord's rotating log files (`rotate`), line assembly
//! with the name prefix (`prefix`), syslog (`syslog`), the safe opening
//! of every file rinit writes (`open`), and what happens when a program's
//! log file cannot be opened (`fallback`).

pub mod capture;
pub mod fallback;
pub mod open;
pub mod prefix;
pub mod rotate;
pub mod syslog;
pub mod writer;

pub use capture::Output;

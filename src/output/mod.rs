//! Program output and rinit's own output (docs/output.md): a bounded,
//! never-blocking writer for rinit's stdout/stderr, per-program pipes read
//! in the poll loop when something needs to see the bytes, supervisord's
//! rotating log files, and line assembly for the name prefix.

pub mod open;
pub mod rotate;
pub mod writer;

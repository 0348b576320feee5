//! rinit: a container init (PID 1) that reads supervisord.conf.
//!
//! The binary (`main.rs`) only parses the command line and hands over to
//! one mode: config mode (`supervisor`), single-program mode (`single`), or
//! the config tools (`rinit check`, `rinit dump`). The modules live in this
//! library so that fuzz targets and tests can reach the parsers directly.

// PID 1 must not panic on a runtime path, and every `unsafe` block states
// the invariant it relies on. Unit tests (cfg(test)) and tests/ may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::undocumented_unsafe_blocks)
)]

pub mod cli;
pub mod config;
pub mod ctl;
pub mod environ;
pub mod errno;
pub mod events;
pub mod heap;
pub mod log;
pub mod machine;
pub mod output;
pub mod pidfile;
pub mod pollset;
pub mod pyrepr;
pub mod reload;
pub mod shutdown;
pub mod signals;
pub mod signame;
pub mod single;
pub mod spawn;
pub mod startup;
pub mod supervisor;
pub mod sys;
pub mod users;

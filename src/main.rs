//! rinit: a container init (PID 1) that reads supervisord.conf.
//!
//! `main` only parses the command line and hands over to one mode:
//! config mode (`supervisor`), single-program mode (`single`), or the
//! config tools (`rinit check`, `rinit dump`). The modules are in `lib.rs`.

// The same no-panic, documented-unsafe rule as lib.rs.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::undocumented_unsafe_blocks)
)]

use std::io::Write as _;

use rinit::cli::{self, Mode};
use rinit::{config, single, startup};

/// Small blocks from size-class free lists: a third of start-up was musl's
/// malloc and free (docs/design.md, "Memory").
#[global_allocator]
static HEAP: rinit::heap::Heap = rinit::heap::Heap::new();

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv0 = argv.first().cloned().unwrap_or_else(|| "rinit".to_string());
    let rest = argv.get(1..).unwrap_or(&[]);
    let code = match cli::parse(&argv0, rest) {
        Ok(Mode::Check(args)) => config::cli::check(&argv0, &args),
        Ok(Mode::Dump(args)) => config::cli::dump(&argv0, &args),
        Ok(Mode::Ctl(args)) => rinit::ctl::client::main(&argv0, &args),
        Ok(Mode::Single { argv, verbose }) => single::run(&argv, verbose),
        Ok(Mode::Supervise(opts)) => startup::supervise(&argv0, &opts),
        // A write error (closed or full stdout) is a status, not a panic.
        Ok(Mode::Help(text)) => config::cli::emit(&text, 0),
        Ok(Mode::Version(text)) => config::cli::emit(&format!("{text}\n"), 0),
        Err(usage) => {
            // stderr too may be full; there is nothing left to tell then.
            let _ = writeln!(std::io::stderr(), "{usage}");
            2
        }
    };
    std::process::exit(code);
}

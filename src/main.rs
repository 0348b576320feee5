//! rinit: a container init (PID 1) that reads supervisord.conf.
//!
//! `main` only parses the command line and hands over to one mode:
//! config mode (`supervisor`), single-program mode (`single`), or the
//! config tools (`rinit check`, `rinit dump`). The modules are in `lib.rs`.
//!
//! There is no Rust `fn main`: libc calls the `main` below directly, and
//! std's start-up is skipped. That start-up made eleven system calls before
//! rinit's first line ran (a `SIGPIPE` ignore and a stack-overflow handler
//! with its own stack, which rinit, with every signal on a signalfd,
//! would reset again); the one thing of it rinit needs, fds 0-2 open, is
//! done here (docs/design.md, "Start-up").

// The test harness brings its own `main`.
#![cfg_attr(not(test), no_main)]
// The same no-panic, documented-unsafe rule as lib.rs.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::undocumented_unsafe_blocks)
)]

/// Small blocks from size-class free lists: a third of start-up was musl's
/// malloc and free (docs/design.md, "Memory").
#[global_allocator]
static HEAP: rinit::heap::Heap = rinit::heap::Heap::new();

// The test harness's `main` replaces all of this in `cargo test`.
#[cfg(not(test))]
mod entry {
    use std::io::Write as _;

    use rinit::cli::{self, Mode};
    use rinit::{config, single, startup};

    /// The C entry point: libc's start-up calls it with the process's
    /// arguments (std's `env::args` would be empty on musl without std's own
    /// start-up).
    #[no_mangle]
    extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
        rinit::sys::ensure_std_fds();
        // SAFETY: libc passes `argc` valid, NUL-terminated strings in `argv`,
        // which live as long as the process.
        let argv = unsafe { rinit::sys::c_args(argc, argv) };
        run(argv)
    }

    fn run(argv: Vec<String>) -> i32 {
        let argv0 = argv.first().cloned().unwrap_or_else(|| "rinit".to_string());
        cli::set_program_name(&argv0);
        let rest = argv.get(1..).unwrap_or(&[]);
        let code = match cli::parse(&argv0, rest) {
            Ok(Mode::Check(args)) => tool(|| config::cli::check(&argv0, &args)),
            Ok(Mode::Dump(args)) => tool(|| config::cli::dump(&argv0, &args)),
            Ok(Mode::Ctl(args)) => tool(|| rinit::ctl::client::main(&argv0, &args)),
            Ok(Mode::Single { argv, verbose }) => single::run(&argv, verbose),
            Ok(Mode::Supervise(opts)) => startup::supervise(&argv0, &opts),
            // A write error (closed or full stdout) is a status, not a panic.
            Ok(Mode::Help(text)) => tool(|| config::cli::emit(&text, 0)),
            Ok(Mode::Version(text)) => tool(|| config::cli::emit(&format!("{text}\n"), 0)),
            Err(usage) => {
                // stderr too may be full; there is nothing left to tell then.
                let _ = writeln!(std::io::stderr(), "{usage}");
                2
            }
        };
        // Flushes std's stdout buffer, as returning from Rust's main did.
        std::process::exit(code);
    }

    /// The tools write to pipes and sockets that may close under them (`rinit
    /// check | head`, a server that goes away): that is an error status, as
    /// under std's start-up, not death by SIGPIPE. The two run-time modes
    /// block every signal on their signalfd instead.
    fn tool(f: impl FnOnce() -> i32) -> i32 {
        rinit::signals::set_disposition(libc::SIGPIPE, libc::SIG_IGN);
        f()
    }
}

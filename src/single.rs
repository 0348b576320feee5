//! Single-program mode (`rinit -- CMD ARGS`): tini's job.
//! One child in its own process group, every catchable signal forwarded to
//! that group, orphans reaped, and rinit's exit status is the child's.

use crate::log::{Level, Logger};
use crate::machine::signal_name;
use crate::signals::{self, SignalFd};
use crate::{spawn, sys};

pub fn run(argv: &[String], verbose: bool) -> i32 {
    let level = if verbose { Level::Debg } else { Level::Info };
    let mut logger = Logger::to_fd(2, level);
    let sig = match SignalFd::install() {
        Ok(s) => s,
        Err(e) => {
            logger.log(Level::Crit, &format!("cannot set up signal handling: {e}"));
            return 1;
        }
    };
    if sys::getpid() != 1 {
        if let Err(e) = sys::set_child_subreaper() {
            logger.log(Level::Warn, &format!("cannot become a child subreaper: {e}"));
        }
    }
    let tty = foreground_tty();
    let child = match spawn::spawn_single(argv, tty) {
        Ok(pid) => pid,
        Err(status) => return status,
    };
    let name = argv.first().map(String::as_str).unwrap_or("");
    logger.log(Level::Debg, &format!("spawned: '{name}' with pid {child}"));
    loop {
        signals::poll_readable(sig.raw(), -1);
        for s in sig.drain() {
            if s == libc::SIGCHLD {
                continue;
            }
            logger.log(
                Level::Debg,
                &format!("forwarding {} to process group {}", signal_name(s), child),
            );
            // The group may be gone already; the reap below will tell.
            let _ = sys::kill(child, s, true);
        }
        loop {
            match sys::reap_one() {
                Ok(Some(r)) if r.pid == child => {
                    logger.log(Level::Debg, &format!("exited: {} ({})", name, r.exit.describe()));
                    return r.exit.as_status();
                }
                Ok(Some(r)) => logger.log(
                    Level::Debg,
                    &format!("reaped unknown pid {} ({})", r.pid, r.exit.describe()),
                ),
                Ok(None) => break,
                Err(e) => {
                    logger.log(
                        Level::Crit,
                        &format!("waitpid error {}: the child is gone", sys::errno_name(&e)),
                    );
                    return 1;
                }
            }
        }
    }
}

/// The terminal to hand to the child, when rinit runs on one (`docker run -it`).
fn foreground_tty() -> Option<i32> {
    // SAFETY: isatty only inspects the fd.
    if unsafe { libc::isatty(0) } == 1 {
        Some(0)
    } else {
        None
    }
}

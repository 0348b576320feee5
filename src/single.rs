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
    // Job control under a terminal: rinit stopped itself with its child.
    let mut suspended = false;
    loop {
        sig.wait(-1);
        for s in sig.drain() {
            if s == libc::SIGCHLD {
                continue;
            }
            if s == libc::SIGCONT && suspended {
                // The shell gave the terminal back to rinit's group (`fg`):
                // hand it on to the child's before continuing it.
                suspended = false;
                if let Some(t) = tty {
                    if let Err(e) = sys::set_foreground(t, child) {
                        logger.log(Level::Debg, &format!("cannot give the terminal back: {e}"));
                    }
                }
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
                Ok(None) => {
                    if let Some(stop) = sys::take_stop(child) {
                        suspended |= suspend_with_child(tty, stop, name, &mut logger);
                    }
                    break;
                }
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

/// The child was stopped by `stop`. When the terminal did it (Ctrl-Z, or a
/// background read or write), stop rinit too: its shell waits on rinit, not
/// on the child, and only regains the terminal when rinit's job stops. As
/// PID 1 rinit cannot be stopped, and without a terminal nobody would
/// continue it. Returns whether rinit stopped.
fn suspend_with_child(tty: Option<i32>, stop: i32, name: &str, logger: &mut Logger) -> bool {
    let job_control = matches!(stop, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU);
    if !job_control || tty.is_none() || sys::getpid() == 1 {
        return false;
    }
    logger.log(
        Level::Debg,
        &format!("'{name}' stopped by {}: stopping rinit too", signal_name(stop)),
    );
    signals::stop_self(stop);
    true
}

/// The terminal to hand to the child, when rinit runs on one (`docker run -it`).
fn foreground_tty() -> Option<i32> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        Some(0)
    } else {
        None
    }
}

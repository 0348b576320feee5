//! rinit's pidfile (`[supervisord] pidfile=`, `-j`): written as supervisord
//! writes it, but once the first programs are forked rather than before
//! (docs/design.md, "Start-up"), and removed at exit.

use crate::log::{Level, Line, Logger};
use crate::output::open::{open_for_write, How};
use std::path::Path;

/// Write `pid` and a newline to `path` (nothing when `path` is empty),
/// created 0644 whatever the umask and never through a planted symlink
/// (docs/output.md, "Files and symlinks").
/// Returns the path written, which is removed at exit, or `None`; a
/// failure is logged, and rinit goes on without a pidfile, as supervisord.
pub fn write(path: &str, pid: i32, logger: &mut Logger) -> Option<String> {
    use std::io::Write;
    if path.is_empty() {
        return None;
    }
    let written = open_for_write(Path::new(path), How::Truncate, true)
        .and_then(|mut f| f.write_all(Line::new().n(pid).s("\n").done().as_bytes()));
    match written {
        Ok(()) => Some(path.to_string()),
        Err(e) => {
            logger.log(Level::Crit, &format!("could not write pidfile {path}"));
            if e.raw_os_error().is_none() {
                // rinit's own refusal (a planted symlink): say why.
                logger.log(Level::Warn, &format!("pidfile {path}: {e}"));
            }
            None
        }
    }
}

/// Remove the pidfile [`write`] wrote.
pub fn remove(path: &str) {
    let _ = std::fs::remove_file(path);
}

//! A program log file that cannot be opened (docs/output.md, "When a log
//! file cannot be opened"). supervisord refuses the config (missing
//! directory) or the spawn (any other open error); rinit runs the program
//! with that output on its own stdout/stderr, as if the key were unset, and
//! says so once, in supervisord's words. Pure: the caller opens, this module
//! words and remembers.

use super::capture::Channel;
use crate::pyrepr::repr;
use crate::spawn::open_error;
use std::path::Path;

/// The key that names the file (with `redirect_stderr`, stderr follows
/// stdout's file and its pipe is the stdout one).
fn key(ch: Channel) -> &'static str {
    match ch {
        Channel::Stdout => "stdout_logfile",
        Channel::Stderr => "stderr_logfile",
    }
}

/// rinit's own stream the output goes to instead: the one the stream would
/// have with the key unset (AUTO).
pub fn console(ch: Channel) -> i32 {
    match ch {
        Channel::Stdout => 1,
        Channel::Stderr => 2,
    }
}

/// Whether an open error means supervisord's missing-directory refusal:
/// the file's directory does not exist (or is not a directory).
pub fn dir_missing(path: &Path, e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))
        && path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .is_some_and(|d| !d.is_dir())
}

/// The WARN line: supervisord's text (its config error for a missing
/// directory, its spawn error otherwise), the program, the key, the path,
/// and where the output goes now.
pub fn failed_text(name: &str, ch: Channel, path: &Path, e: &std::io::Error, dir_missing: bool) -> String {
    let to = if console(ch) == 1 { "stdout" } else { "stderr" };
    let (key, path) = (key(ch), path.display());
    if dir_missing {
        format!(
            "The directory named as part of the path {path} does not exist ({key} of {}); \
             that output goes to rinit's {to} instead",
            repr(name)
        )
    } else {
        format!(
            "{} ({key} {path}); that output goes to rinit's {to} instead",
            open_error(name, e)
        )
    }
}

/// The INFO line once the file opens again (next spawn, or SIGUSR2).
pub fn opened_text(name: &str, ch: Channel, path: &Path) -> String {
    format!(
        "opened {} {} for {}: that output goes there again",
        key(ch),
        path.display(),
        repr(name)
    )
}

/// The streams whose file could not be opened, with the last line said
/// about each, so that a crash loop or repeated SIGUSR2 says it once.
#[derive(Default)]
pub struct Failing {
    said: Vec<(String, Channel, String)>,
}

impl Failing {
    /// `text` for process `name`'s stream `ch`: returned when it is news
    /// (to be logged), `None` when it was the last thing said about it.
    pub fn failed(&mut self, name: &str, ch: Channel, text: String) -> Option<String> {
        match self.said.iter_mut().find(|(n, c, _)| n == name && *c == ch) {
            Some((_, _, last)) if *last == text => None,
            Some((_, _, last)) => {
                last.clone_from(&text);
                Some(text)
            }
            None => {
                self.said.push((name.to_string(), ch, text.clone()));
                Some(text)
            }
        }
    }

    /// The file opened: the line to log when it had failed before.
    pub fn opened(&mut self, name: &str, ch: Channel, path: &Path) -> Option<String> {
        let k = self.said.iter().position(|(n, c, _)| n == name && *c == ch)?;
        self.said.swap_remove(k);
        Some(opened_text(name, ch, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Error;

    #[test]
    fn texts_are_supervisords_plus_where_the_output_goes() {
        let p = Path::new("/var/log/app/web.log");
        assert_eq!(
            failed_text(
                "web",
                Channel::Stdout,
                p,
                &Error::from_raw_os_error(libc::ENOENT),
                true
            ),
            "The directory named as part of the path /var/log/app/web.log does not exist \
             (stdout_logfile of 'web'); that output goes to rinit's stdout instead"
        );
        assert_eq!(
            failed_text(
                "web",
                Channel::Stderr,
                p,
                &Error::from_raw_os_error(libc::EACCES),
                false
            ),
            "unknown error making dispatchers for 'web': EACCES (stderr_logfile /var/log/app/web.log); \
             that output goes to rinit's stderr instead"
        );
        assert_eq!(
            opened_text("web", Channel::Stdout, p),
            "opened stdout_logfile /var/log/app/web.log for 'web': that output goes there again"
        );
    }

    #[test]
    fn missing_directory_is_told_apart_from_a_missing_file() {
        let e = Error::from_raw_os_error(libc::ENOENT);
        assert!(dir_missing(Path::new("/nonexistent-rinit/dir/x.log"), &e));
        // The directory exists: not supervisord's config error.
        assert!(!dir_missing(Path::new("/tmp/x.log"), &e));
        assert!(!dir_missing(Path::new("x.log"), &e));
        assert!(!dir_missing(
            Path::new("/nonexistent-rinit/x.log"),
            &Error::from_raw_os_error(libc::EACCES)
        ));
    }

    #[test]
    fn each_failure_is_said_once_and_the_recovery_once() {
        let mut f = Failing::default();
        let p = Path::new("/d/x.log");
        assert_eq!(f.opened("x", Channel::Stdout, p), None, "nothing to recover from");
        assert_eq!(f.failed("x", Channel::Stdout, "A".into()), Some("A".into()));
        assert_eq!(f.failed("x", Channel::Stdout, "A".into()), None, "a crash loop");
        assert_eq!(f.failed("x", Channel::Stderr, "A".into()), Some("A".into()));
        assert_eq!(f.failed("y", Channel::Stdout, "A".into()), Some("A".into()));
        assert_eq!(
            f.failed("x", Channel::Stdout, "B".into()),
            Some("B".into()),
            "a new reason"
        );
        assert_eq!(
            f.opened("x", Channel::Stdout, p),
            Some(opened_text("x", Channel::Stdout, p))
        );
        assert_eq!(f.opened("x", Channel::Stdout, p), None);
        assert_eq!(
            f.failed("x", Channel::Stdout, "B".into()),
            Some("B".into()),
            "fails again"
        );
    }
}

//! The activity log, in supervisord's exact format
//! (`YYYY-MM-DD HH:MM:SS,mmm LEVEL message`, local time, milliseconds
//! truncated), so that log tooling written for supervisord keeps working.
//!
//! Records are written with one `write(2)` each and never buffered: PID 1
//! may be SIGKILLed at any moment and a half-kept log is worse than none.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

/// supervisord's seven levels; the discriminant is its numeric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Blat = 3,
    Trac = 5,
    Debg = 10,
    Info = 20,
    Warn = 30,
    Erro = 40,
    Crit = 50,
}

impl Level {
    pub fn code(self) -> &'static str {
        match self {
            Level::Crit => "CRIT",
            Level::Erro => "ERRO",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debg => "DEBG",
            Level::Trac => "TRAC",
            Level::Blat => "BLAT",
        }
    }

    /// `loglevel=` words (already validated by the config layer).
    pub fn from_config(word: &str) -> Option<Level> {
        match word.to_ascii_lowercase().as_str() {
            "critical" => Some(Level::Crit),
            "error" => Some(Level::Erro),
            "warn" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debg),
            "trace" => Some(Level::Trac),
            "blather" => Some(Level::Blat),
            _ => None,
        }
    }
}

/// Where records go: stdout unless `silent`, plus the `logfile`.
pub struct Logger {
    pub level: Level,
    to_stdout: bool,
    /// The "stdout" copy's fd: 1, or 2 in single-program mode where
    /// stdout belongs to the program.
    out_fd: i32,
    file_path: Option<PathBuf>,
    file: Option<File>,
    file_is_regular: bool,
    /// Records kept back while rinit signals its programs (`hold`).
    held: Option<Vec<String>>,
    maxbytes: u64,
    backups: u32,
}

impl Logger {
    /// A logger that writes to stdout only (before the config is read, and
    /// in single-program mode).
    pub fn stdout(level: Level) -> Logger {
        Logger::to_fd(1, level)
    }

    pub fn to_fd(out_fd: i32, level: Level) -> Logger {
        Logger {
            level,
            to_stdout: true,
            out_fd,
            file_path: None,
            file: None,
            file_is_regular: false,
            held: None,
            maxbytes: 0,
            backups: 0,
        }
    }

    /// Set the destinations from the configuration. Returns the error text
    /// when the log file cannot be opened (the caller logs it and goes on
    /// with stdout alone: a missing log file must not stop the programs).
    pub fn configure(
        &mut self,
        level: Level,
        silent: bool,
        logfile: Option<PathBuf>,
        maxbytes: u64,
        backups: u32,
    ) -> Result<(), String> {
        self.level = level;
        self.to_stdout = !silent;
        self.maxbytes = maxbytes;
        self.backups = backups;
        self.file_path = logfile;
        self.reopen()
    }

    /// Close and reopen the log file (SIGUSR2, after external rotation).
    pub fn reopen(&mut self) -> Result<(), String> {
        self.file = None;
        self.file_is_regular = false;
        let Some(path) = self.file_path.clone() else {
            return Ok(());
        };
        if path == std::path::Path::new("/dev/null") {
            // The usual container setting: writing there would be a wasted
            // system call per record.
            return Ok(());
        }
        match open_append(&path) {
            Ok(f) => {
                // Only a regular file can grow to `maxbytes`: /dev/null or a
                // pipe needs no size check after every record.
                self.file_is_regular = f.metadata().map(|m| m.file_type().is_file()).unwrap_or(false);
                self.file = Some(f);
                Ok(())
            }
            Err(e) => Err(format!("could not open log file {}: {}", path.display(), e)),
        }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// Keep records back until `release`: they are formatted then (with
    /// their own time), so order and text are unchanged.
    pub fn hold(&mut self) {
        if self.held.is_none() {
            self.held = Some(Vec::new());
        }
    }

    pub fn release(&mut self) {
        for record in self.held.take().unwrap_or_default() {
            self.write_record(&record);
        }
    }

    pub fn log(&mut self, level: Level, msg: &str) {
        if !self.enabled(level) {
            return;
        }
        if let Some(held) = self.held.as_mut() {
            held.push(format!("{} {} {}\n", timestamp(), level.code(), msg));
            return;
        }
        self.write_record(&format!("{} {} {}\n", timestamp(), level.code(), msg));
    }

    fn write_record(&mut self, record: &str) {
        if self.to_stdout {
            write_all_fd(self.out_fd, record.as_bytes());
        }
        if let Some(f) = self.file.as_mut() {
            // A failing log file must never stop PID 1; the stdout copy stays.
            let _ = f.write_all(record.as_bytes());
            self.rotate_if_due();
        }
    }

    /// supervisord's rotation: `f` → `f.1` → … → `f.{backups}`, only for
    /// regular files (a pipe or a tty has no size: no `Illegal seek` here).
    fn rotate_if_due(&mut self) {
        if self.maxbytes == 0 || !self.file_is_regular {
            return;
        }
        let (Some(f), Some(path)) = (self.file.as_ref(), self.file_path.clone()) else {
            return;
        };
        let Ok(meta) = f.metadata() else { return };
        if !meta.file_type().is_file() || meta.size() < self.maxbytes {
            return;
        }
        self.file = None;
        if self.backups > 0 {
            for i in (1..self.backups).rev() {
                let from = backup_name(&path, i);
                if from.exists() {
                    let _ = std::fs::rename(&from, backup_name(&path, i + 1));
                }
            }
            let _ = std::fs::rename(&path, backup_name(&path, 1));
        } else {
            let _ = std::fs::remove_file(&path);
        }
        self.file = open_append(&path).ok();
    }
}

fn backup_name(path: &std::path::Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_CLOEXEC)
        .mode(0o644)
        .open(path)
}

/// Write everything to a raw fd, retrying on EINTR/short writes; errors
/// (EPIPE when nobody reads our stdout) are dropped: logging never kills PID 1.
pub fn write_all_fd(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is a valid slice; fd is an integer the kernel checks.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        let n = n as usize;
        if n == 0 || n > buf.len() {
            return;
        }
        buf = &buf[n..];
    }
}

/// Local time as `YYYY-MM-DD HH:MM:SS,mmm` (TZ and /etc/localtime honoured
/// by the C library's `localtime_r`).
pub fn timestamp() -> String {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    // SAFETY: an all-zero tm is a valid value to be overwritten.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let secs = ts.tv_sec;
    // SAFETY: both pointers are valid for the duration of the call.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return format!("{},{:03}", ts.tv_sec, ts.tv_nsec / 1_000_000);
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ts.tv_nsec / 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_supervisords_shape() {
        let t = timestamp();
        let b = t.as_bytes();
        assert_eq!(t.len(), 23, "{t}");
        assert_eq!(b[4], b'-');
        assert_eq!(b[10], b' ');
        assert_eq!(b[19], b',');
    }

    #[test]
    fn levels_filter_like_supervisord() {
        let l = Logger::stdout(Level::Info);
        assert!(l.enabled(Level::Warn));
        assert!(l.enabled(Level::Info));
        assert!(!l.enabled(Level::Debg));
        assert_eq!(Level::from_config("WARN"), Some(Level::Warn));
        assert_eq!(Level::from_config("warning"), None);
    }

    #[test]
    fn held_records_keep_their_order() {
        let mut l = Logger::stdout(Level::Info);
        l.hold();
        l.log(Level::Warn, "first");
        l.log(Level::Debg, "filtered");
        l.log(Level::Info, "second");
        let held = l.held.clone().unwrap();
        assert_eq!(held.len(), 2);
        assert!(held[0].ends_with(" WARN first\n") && held[1].ends_with(" INFO second\n"));
        l.release();
        assert!(l.held.is_none());
    }

    #[test]
    fn rotation_keeps_backups() {
        let dir = std::env::temp_dir().join(format!("rinit-logrot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let mut l = Logger::stdout(Level::Info);
        l.configure(Level::Info, true, Some(path.clone()), 100, 2)
            .unwrap();
        for i in 0..20 {
            l.log(Level::Info, &format!("line {i} with some padding text"));
        }
        assert!(path.exists());
        assert!(backup_name(&path, 1).exists());
        assert!(backup_name(&path, 2).exists());
        assert!(!backup_name(&path, 3).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The activity log, in supervisord's exact format
//! (`YYYY-MM-DD HH:MM:SS,mmm LEVEL message`, local time, milliseconds
//! truncated), so that log tooling written for supervisord keeps working.
//!
//! Records are written with one `write(2)` each as they happen: PID 1 may
//! be SIGKILLed at any moment and a half-kept log is worse than none. Only
//! when a consumer is slow do they wait, in a bounded queue that never
//! blocks the loop (`output::writer`, docs/output.md).

use crate::output::open::{open_for_write, How};
use crate::output::rotate::RotatingFile;
use crate::output::syslog::Syslog;
use crate::output::writer::Writer;
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

/// How much of rinit's own output may wait for a slow consumer, per
/// stream; 1 MiB in all (docs/output.md, "Never blocking").
pub const STDOUT_QUEUE: usize = 512 * 1024;
pub const STDERR_QUEUE: usize = 256 * 1024;
pub const FILE_QUEUE: usize = 256 * 1024;

/// The activity log file: a regular file rotates; anything else (a FIFO,
/// `/dev/stdout` reopened, a terminal) is written without ever blocking.
enum LogFile {
    Regular(RotatingFile),
    Stream(Writer),
}

/// Where records go: stdout unless `silent`, plus the `logfile`.
pub struct Logger {
    pub level: Level,
    to_stdout: bool,
    /// The "stdout" copy's fd: 1, or 2 in single-program mode where
    /// stdout belongs to the program.
    out_fd: i32,
    /// rinit's fd 1 and fd 2, shared with the prefixed program output so
    /// that no line is ever cut by another (created on first use).
    fd1: Option<Writer>,
    fd2: Option<Writer>,
    file_path: Option<PathBuf>,
    file: Option<LogFile>,
    /// Records kept back while rinit signals its programs (`hold`).
    held: Option<Vec<String>>,
    maxbytes: u64,
    backups: u32,
    /// `logfile=syslog`: records go to the syslog daemon instead of a file.
    syslog: Option<Syslog>,
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
            fd1: None,
            fd2: None,
            file_path: None,
            file: None,
            held: None,
            maxbytes: 0,
            backups: 0,
            syslog: None,
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
        // What a non-regular old file could not take yet is lost with it.
        self.file = None;
        let Some(path) = self.file_path.clone() else {
            return Ok(());
        };
        if path == std::path::Path::new("/dev/null") {
            // The usual container setting: writing there would be a wasted
            // system call per record.
            return Ok(());
        }
        let err = |e: std::io::Error| format!("could not open log file {}: {}", path.display(), e);
        let f = open_for_write(&path, How::Append, true).map_err(err)?;
        let regular = f.metadata().map(|m| m.file_type().is_file()).unwrap_or(false);
        self.file = Some(if regular {
            drop(f);
            LogFile::Regular(RotatingFile::open(&path, self.maxbytes, self.backups).map_err(err)?)
        } else {
            LogFile::Stream(Writer::owning(f.into(), FILE_QUEUE, &path.display().to_string()))
        });
        Ok(())
    }

    /// `logfile=syslog`: each record (supervisord's whole line, time and
    /// level included) also goes to `/dev/log`.
    pub fn use_syslog(&mut self) {
        self.syslog = Some(Syslog::new());
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
            held.push(record(level, msg));
            return;
        }
        self.write_record(&record(level, msg));
    }

    /// rinit's own fd 1 or 2 (any other number means 2), for whole lines
    /// that must not block and must not be cut by a record.
    pub fn stream(&mut self, fd: i32) -> &mut Writer {
        let (slot, cap, what) = if fd == 1 {
            (&mut self.fd1, STDOUT_QUEUE, "stdout")
        } else {
            (&mut self.fd2, STDERR_QUEUE, "stderr")
        };
        slot.get_or_insert_with(|| Writer::for_fd(fd, cap, what))
    }

    /// The descriptors whose writers have output waiting (for POLLOUT).
    pub fn waiting_fds(&self) -> Vec<i32> {
        let file = match &self.file {
            Some(LogFile::Stream(w)) => Some(w),
            _ => None,
        };
        [self.fd1.as_ref(), self.fd2.as_ref(), file]
            .into_iter()
            .flatten()
            .filter(|w| w.wants_pollout())
            .map(|w| w.raw_fd())
            .collect()
    }

    /// Write what waits, as far as the consumers take it now (called when
    /// one polled writable, and at exit: one more try, never a wait).
    pub fn flush(&mut self) {
        let file = match self.file.as_mut() {
            Some(LogFile::Stream(w)) => Some(w),
            _ => None,
        };
        for w in [self.fd1.as_mut(), self.fd2.as_mut(), file].into_iter().flatten() {
            w.flush();
        }
    }

    fn write_record(&mut self, record: &str) {
        if self.to_stdout {
            let fd = self.out_fd;
            self.stream(fd).push(record.as_bytes());
        }
        match self.file.as_mut() {
            // A failing log file must never stop PID 1; the stdout copy stays.
            Some(LogFile::Regular(f)) => {
                let _ = f.write(record.as_bytes());
            }
            Some(LogFile::Stream(w)) => {
                w.push(record.as_bytes());
            }
            None => {}
        }
        if let Some(s) = self.syslog.as_mut() {
            s.send(record.trim_end_matches('\n').as_bytes());
        }
    }
}

/// A log line built piece by piece, for the lines of every start and stop:
/// `format!`'s machinery cost over a thousand instructions for a line of
/// four pieces, several times the allocation and copies that make it.
pub struct Line(String);

impl Line {
    pub fn new() -> Line {
        // Room for the usual line: growing it costs a reallocation each time.
        Line(String::with_capacity(80))
    }

    /// Append `text`.
    pub fn s(mut self, text: &str) -> Line {
        self.0.push_str(text);
        self
    }

    /// Append `v` in decimal.
    pub fn n(mut self, v: impl Into<i64>) -> Line {
        let v: i64 = v.into();
        push_decimal(&mut self.0, v < 0, v.unsigned_abs());
        self
    }

    /// Append `v` in decimal (the unsigned counts and settings).
    pub fn u(mut self, v: u64) -> Line {
        push_decimal(&mut self.0, false, v);
        self
    }

    /// Append the name supervisord prints for signal `sig` (`SIGTERM`, or
    /// `signal 40` for a number without a name).
    pub fn sig(mut self, sig: i32) -> Line {
        match crate::signame::canonical(sig) {
            Some(name) => self.0.push_str(name),
            None => {
                self.0.push_str("signal ");
                push_decimal(&mut self.0, sig < 0, u64::from(sig.unsigned_abs()));
            }
        }
        self
    }

    pub fn done(self) -> String {
        self.0
    }
}

impl Default for Line {
    fn default() -> Line {
        Line::new()
    }
}

/// Append `abs` in decimal, after a `-` when `negative`, as `format!`
/// writes an integer.
fn push_decimal(out: &mut String, negative: bool, abs: u64) {
    // 20 digits and a sign hold every u64 and i64.
    let mut buf = [0u8; 21];
    let mut at = buf.len();
    let mut rest = abs;
    loop {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'-';
        }
    }
    for &b in buf.get(at..).unwrap_or_default() {
        out.push(char::from(b));
    }
}

/// Local time as `YYYY-MM-DD HH:MM:SS,mmm` (TZ and /etc/localtime honoured
/// by the C library's `localtime_r`).
pub fn timestamp() -> String {
    let mut s = String::with_capacity(23);
    push_timestamp(&mut s);
    s
}

/// One record, `STAMP LEVEL message\n`, built in one allocation.
fn record(level: Level, msg: &str) -> String {
    let mut r = String::with_capacity(23 + 6 + msg.len() + 1);
    push_timestamp(&mut r);
    r.push(' ');
    r.push_str(level.code());
    r.push(' ');
    r.push_str(msg);
    r.push('\n');
    r
}

thread_local! {
    /// The last second stamped, as `YYYY-MM-DD HH:MM:SS`: `localtime_r`
    /// (which reads TZ again each call) and the digits once a second, not
    /// once a record. Formatting them with `format!` was a tenth of
    /// rinit's start-up.
    static SECOND: std::cell::Cell<(i64, [u8; 19])> = const { std::cell::Cell::new((i64::MIN, [0; 19])) };
}

/// Append [`timestamp`] to `out`.
fn push_timestamp(out: &mut String) {
    let (secs, nanos) = crate::sys::now_realtime();
    let millis = nanos / 1_000_000;
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        let Some(tm) = crate::sys::local_time(secs) else {
            out.push_str(&format!("{secs},{millis:03}"));
            return;
        };
        let Some(t) = date_time(&tm) else {
            // A year past 9999: as wide as it is, never cached.
            out.push_str(&format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{millis:03}",
                i64::from(tm.tm_year) + 1900,
                tm.tm_mon + 1,
                tm.tm_mday,
                tm.tm_hour,
                tm.tm_min,
                tm.tm_sec,
            ));
            return;
        };
        text = t;
        SECOND.set((secs, text));
    }
    let mut stamp = [0u8; 23];
    let (date, frac) = stamp.split_at_mut(19);
    date.copy_from_slice(&text);
    if let Some((comma, ms)) = frac.split_first_mut() {
        *comma = b',';
        put_digits(ms, i64::from(millis));
    }
    // SAFETY: every byte of `stamp` is ASCII: the digits and separators of
    // `date_time` and `put_digits`, a comma, or the zeroes it starts with.
    // (Checking it again as UTF-8 cost as much as building it.)
    out.push_str(unsafe { std::str::from_utf8_unchecked(&stamp) });
}

/// `YYYY-MM-DD HH:MM:SS`; None when a field does not fit its width (a
/// year past 9999), which `push_timestamp` then formats as it comes.
fn date_time(tm: &libc::tm) -> Option<[u8; 19]> {
    let mut b = *b"0000-00-00 00:00:00";
    let fields: [(std::ops::Range<usize>, i64); 6] = [
        (0..4, i64::from(tm.tm_year) + 1900),
        (5..7, i64::from(tm.tm_mon) + 1),
        (8..10, i64::from(tm.tm_mday)),
        (11..13, i64::from(tm.tm_hour)),
        (14..16, i64::from(tm.tm_min)),
        (17..19, i64::from(tm.tm_sec)),
    ];
    for (at, v) in fields {
        if !put_digits(b.get_mut(at)?, v) {
            return None;
        }
    }
    Some(b)
}

/// `v` as exactly `buf.len()` decimal digits, zero-padded; false when it
/// is negative or has more digits.
fn put_digits(buf: &mut [u8], mut v: i64) -> bool {
    if v < 0 {
        return false;
    }
    for d in buf.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    v == 0
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
    fn timestamp_digits_are_supervisords() {
        // The hand-made digits say what `format!("{:04}-{:02}…")` said.
        // SAFETY: libc::tm is integers and one pointer, all valid as zeroes.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        (tm.tm_year, tm.tm_mon, tm.tm_mday) = (126, 10, 3);
        (tm.tm_hour, tm.tm_min, tm.tm_sec) = (4, 8, 9);
        assert_eq!(&date_time(&tm).unwrap(), b"2026-11-03 04:08:09");
        tm.tm_year = 10_000;
        assert_eq!(date_time(&tm), None);
        let mut ms = [0u8; 3];
        assert!(put_digits(&mut ms, 7));
        assert_eq!(&ms, b"007");
        assert!(!put_digits(&mut ms, 1000));
        let r = record(Level::Warn, "x");
        assert_eq!(&r[23..], " WARN x\n");
    }

    #[test]
    fn lines_read_as_format_writes_them() {
        for v in [0i64, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(Line::new().n(v).done(), format!("{v}"));
        }
        assert_eq!(Line::new().u(u64::MAX).done(), u64::MAX.to_string());
        let l = Line::new()
            .s("killing ")
            .s("web")
            .s(" (pid ")
            .n(42)
            .s(") with signal ")
            .sig(15)
            .s(", then ")
            .sig(40)
            .done();
        assert_eq!(l, "killing web (pid 42) with signal SIGTERM, then signal 40");
        assert_eq!(Line::new().sig(40).done(), crate::signame::signal_name(40));
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
        use crate::output::rotate::backup_name;
        assert!(backup_name(&path, 1).exists());
        assert!(backup_name(&path, 2).exists());
        assert!(!backup_name(&path, 3).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

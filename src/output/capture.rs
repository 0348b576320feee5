//! Per-program output pipes read in the poll loop (docs/output.md,
//! "Capture"). A stream goes through a pipe only when something needs to
//! see its bytes; otherwise the child writes straight to its destination
//! and rinit copies nothing.
//!
//! Each pass the loop calls [`Output::register`] before its `poll` and
//! [`Output::dispatch`] after. Reading is non-blocking and bounded: one read
//! of at most [`READ_SIZE`] bytes per pipe per pass, and no read at all
//! while a pipe's assembled lines wait for room in rinit's stdout queue, so
//! a program writing faster than the consumer is throttled by its own full
//! pipe and PID 1 never waits.

use super::fallback::{self, Failing};
use super::prefix::{prefix_for, render, rendered_len, Lines, Piece, SPLIT_MARKER};
use super::rotate::RotatingFile;
use super::syslog::Syslog;
use super::writer::{Writer, IOV_MAX, PIPE_BUF};
use crate::config::{LogDest, ProcessConfig};
use crate::log::{Level, Logger};
use crate::machine::Millis;
use crate::pollset::{PollSet, Slot};
use crate::spawn::{self, SpawnError};
use crate::users::UserDb;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One read's size (supervisord's too).
pub const READ_SIZE: usize = 128 * 1024;
/// Reads per pipe per loop pass: bounded work, so one chatty program
/// cannot starve the loop, yet few wake-ups per megabyte.
pub const READS_PER_PASS: usize = 4;
/// Room for assembled lines handed to rinit's stdout in one write.
const BATCH: usize = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Stdout,
    Stderr,
}

/// A consumer of captured bytes (the control interface's `tail`, PROCESS_LOG
/// events): called with the process index, the channel and each chunk.
pub type Tap = Box<dyn FnMut(usize, Channel, &[u8])>;

/// Whether a stream needs rinit to see its bytes.
pub fn needs_capture(p: &ProcessConfig, ch: Channel) -> bool {
    let (dest, maxbytes, syslog, capture, events) = match ch {
        Channel::Stdout => (
            &p.stdout,
            p.stdout_logfile_maxbytes,
            p.stdout_syslog,
            p.stdout_capture_maxbytes,
            p.stdout_events_enabled,
        ),
        Channel::Stderr => (
            &p.stderr,
            p.stderr_logfile_maxbytes,
            p.stderr_syslog,
            p.stderr_capture_maxbytes,
            p.stderr_events_enabled,
        ),
    };
    if syslog || capture > 0 || events {
        return true;
    }
    match dest {
        LogDest::File(path) => maxbytes > 0 && rotatable(path),
        LogDest::Inherit | LogDest::RinitStdout | LogDest::RinitStderr => p.output_prefix,
        LogDest::Null => false,
    }
}

/// Only a regular file (or one not created yet) rotates: a character
/// device, a FIFO or a socket named as a log file stays pass-through.
fn rotatable(path: &std::path::Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) => m.file_type().is_file(),
        Err(_) => true,
    }
}

/// rinit's fd a console destination means for this channel.
fn console_fd(dest: &LogDest, ch: Channel) -> Option<i32> {
    match dest {
        LogDest::Inherit => Some(if ch == Channel::Stdout { 1 } else { 2 }),
        LogDest::RinitStdout => Some(1),
        LogDest::RinitStderr => Some(2),
        _ => None,
    }
}

/// The log file a captured stream could not open: its output goes to
/// rinit's own stream until SIGUSR2 opens it (or the next spawn).
struct Wanted {
    name: String,
    path: PathBuf,
    maxbytes: u64,
    backups: u32,
}

struct Pipe {
    proc: usize,
    channel: Channel,
    fd: OwnedFd,
    file: Option<RotatingFile>,
    wanted: Option<Wanted>,
    console: Option<i32>,
    prefix: Vec<u8>,
    syslog: Option<Vec<u8>>,
    lines: Lines,
    eof: bool,
    /// The process exited: flush its partial line now.
    exited: bool,
    /// Its lines wait for room in rinit's stdout queue: the loop wakes on
    /// that queue's POLLOUT, not on an idle-flush deadline (which would be
    /// in the past and spin the loop).
    blocked: bool,
}

impl Pipe {
    /// Whether assembled lines are needed (console or syslog).
    fn assembles(&self) -> bool {
        self.console.is_some() || self.syslog.is_some()
    }
}

#[derive(Default)]
pub struct Output {
    pipes: Vec<Pipe>,
    slots: Vec<(usize, Slot)>,
    scratch: Vec<u8>,
    line: Vec<u8>,
    /// Name width for aligned prefixes.
    width: usize,
    syslog: Option<Syslog>,
    tap: Option<Tap>,
    users: UserDb,
    /// Log files that could not be opened, each said once.
    failing: Failing,
    /// Bytes rinit copied (the benchmark shows 0 for pass-through).
    pub copied: u64,
}

impl Output {
    /// `procs`: every process rinit supervises (for prefix alignment).
    pub fn new<'a>(procs: impl Iterator<Item = &'a ProcessConfig>) -> Output {
        let width = procs
            .filter(|p| p.output_prefix)
            .map(|p| p.name.chars().count())
            .max()
            .unwrap_or(0);
        Output {
            width,
            ..Output::default()
        }
    }

    pub fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// Spawn process `i`, with pipes for the streams that need capture, and
    /// open the log files rinit writes itself. A log file that cannot be
    /// opened does not stop the program: that output goes to rinit's own
    /// stdout/stderr, with one WARN line (docs/output.md).
    pub fn spawn(
        &mut self,
        i: usize,
        p: &ProcessConfig,
        base_env: &crate::environ::Environ,
        logger: &mut Logger,
    ) -> Result<i32, SpawnError> {
        let out = needs_capture(p, Channel::Stdout);
        // With redirect_stderr the child's fd 2 is its stdout pipe.
        let err = !p.redirect_stderr && needs_capture(p, Channel::Stderr);
        let mut planned = Vec::new();
        for (on, ch) in [(out, Channel::Stdout), (err, Channel::Stderr)] {
            if !on {
                continue;
            }
            let (dest, maxbytes, backups, syslog) = match ch {
                Channel::Stdout => (
                    &p.stdout,
                    p.stdout_logfile_maxbytes,
                    p.stdout_logfile_backups,
                    p.stdout_syslog,
                ),
                Channel::Stderr => (
                    &p.stderr,
                    p.stderr_logfile_maxbytes,
                    p.stderr_logfile_backups,
                    p.stderr_syslog,
                ),
            };
            let mut console = console_fd(dest, ch);
            let mut wanted = None;
            let file = match dest {
                LogDest::File(path) => {
                    let max = if rotatable(path) { maxbytes } else { 0 };
                    match RotatingFile::open(path, max, backups) {
                        Ok(f) => {
                            self.opened(&p.name, ch, path, logger);
                            Some(f)
                        }
                        Err(e) => {
                            self.failed(&p.name, ch, path, &e, logger);
                            console = Some(fallback::console(ch));
                            wanted = Some(Wanted {
                                name: p.name.clone(),
                                path: path.clone(),
                                maxbytes: max,
                                backups,
                            });
                            None
                        }
                    }
                }
                _ => None,
            };
            let prefix = if p.output_prefix && console.is_some() {
                prefix_for(&p.name, self.width)
            } else {
                Vec::new()
            };
            let syslog = syslog.then(|| format!("{} ", p.name).into_bytes());
            planned.push((ch, file, wanted, console, prefix, syslog));
        }
        let mut fell_back = Vec::new();
        let (pid, mut fds) = spawn::spawn_captured(p, base_env, &self.users, [out, err], &mut fell_back)?;
        // The pass-through files, opened for the child by spawn.
        for (on, ch, dest) in [
            (out, Channel::Stdout, &p.stdout),
            (err, Channel::Stderr, &p.stderr),
        ] {
            let LogDest::File(path) = dest else { continue };
            if on || (ch == Channel::Stderr && p.redirect_stderr) {
                continue;
            }
            match fell_back.iter().find(|f| f.fd == fallback::console(ch)) {
                Some(f) => self.failed(&p.name, ch, path, &f.error, logger),
                None => self.opened(&p.name, ch, path, logger),
            }
        }
        for (ch, file, wanted, console, prefix, syslog) in planned {
            let slot = if ch == Channel::Stdout { 0 } else { 1 };
            let Some(fd) = fds.get_mut(slot).and_then(Option::take) else {
                continue;
            };
            if syslog.is_some() && self.syslog.is_none() {
                self.syslog = Some(Syslog::new());
            }
            self.pipes.push(Pipe {
                proc: i,
                channel: ch,
                fd,
                file,
                wanted,
                console,
                prefix,
                syslog,
                lines: Lines::default(),
                eof: false,
                exited: false,
                blocked: false,
            });
        }
        Ok(pid)
    }

    /// Add the pipes worth reading now to this pass's poll set.
    pub fn register(&mut self, set: &mut PollSet) {
        self.slots.clear();
        for (k, p) in self.pipes.iter().enumerate() {
            // Lines still waiting for room: read nothing more (back-pressure).
            if !p.eof && p.lines.backlog() < READ_SIZE {
                self.slots.push((k, set.add(p.fd.as_raw_fd(), libc::POLLIN)));
            }
        }
    }

    /// When a partial line is due for its idle flush.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.pipes
            .iter()
            .filter(|p| !p.blocked)
            .filter_map(|p| p.lines.deadline())
            .min()
    }

    /// Read the pipes `poll` found ready (once each), write what was read,
    /// and hand out assembled lines as far as the consumers take them.
    pub fn dispatch(&mut self, set: &PollSet, now: Millis, logger: &mut Logger) {
        if self.scratch.len() < READ_SIZE && !self.slots.is_empty() {
            self.scratch.resize(READ_SIZE, 0);
        }
        let ready: Vec<usize> = self
            .slots
            .iter()
            .filter(|(_, s)| set.readable(*s))
            .map(|(k, _)| *k)
            .collect();
        for k in ready {
            for _ in 0..READS_PER_PASS {
                // Read again only while the pipe had a full buffer and the
                // assembled lines have room (back-pressure).
                if !self.read_once(k, now) || self.pipes.get(k).is_none_or(|p| p.lines.backlog() >= READ_SIZE)
                {
                    break;
                }
            }
        }
        self.drain_lines(now, logger);
    }

    /// Process `i` ended: what its pipes hold now is read and its partial
    /// lines are flushed (the pipes stay until EOF: a daemonized grandchild
    /// may still write).
    pub fn exited(&mut self, i: usize, now: Millis, logger: &mut Logger) {
        // Most programs have no pipe: zeroing 128 KiB for them cost more
        // than all the rest of an exit (docs/output.md).
        if self.scratch.len() < READ_SIZE && self.pipes.iter().any(|p| p.proc == i) {
            self.scratch.resize(READ_SIZE, 0);
        }
        for k in 0..self.pipes.len() {
            if self.pipes[k].proc == i {
                self.pipes[k].exited = true;
                self.read_once(k, now);
            }
        }
        self.drain_lines(now, logger);
    }

    /// rinit is exiting: what every pipe holds now is read and written.
    pub fn finish(&mut self, now: Millis, logger: &mut Logger) {
        for k in 0..self.pipes.len() {
            self.pipes[k].exited = true;
        }
        let procs: Vec<usize> = self.pipes.iter().map(|p| p.proc).collect();
        for i in procs {
            self.exited(i, now, logger);
        }
    }

    /// SIGUSR2: reopen every log file by name (logrotate's `create` mode),
    /// and try again the files that could not be opened: one that opens now
    /// gets the output from here on (what was read before still goes to
    /// rinit's stream).
    pub fn reopen(&mut self, now: Millis, logger: &mut Logger) {
        for k in 0..self.pipes.len() {
            let p = &mut self.pipes[k];
            if let Some(f) = p.file.as_mut() {
                if let Err(e) = f.reopen() {
                    logger.log(
                        Level::Crit,
                        &format!("could not reopen {}: {e}", f.path().display()),
                    );
                }
                continue;
            }
            let Some(w) = p.wanted.take() else { continue };
            match RotatingFile::open(&w.path, w.maxbytes, w.backups) {
                Ok(f) => {
                    drain_pipe(p, &mut self.line, &mut self.syslog, now, true, logger);
                    p.file = Some(f);
                    p.console = None;
                    p.prefix.clear();
                    let ch = p.channel;
                    self.opened(&w.name, ch, &w.path, logger);
                }
                Err(e) => {
                    let ch = p.channel;
                    self.failed(&w.name, ch, &w.path, &e, logger);
                    self.pipes[k].wanted = Some(w);
                }
            }
        }
    }

    /// Log file `path` of stream `ch` of `name` could not be opened: say so
    /// (once) in supervisord's words.
    fn failed(&mut self, name: &str, ch: Channel, path: &Path, e: &std::io::Error, logger: &mut Logger) {
        let text = fallback::failed_text(name, ch, path, e, fallback::dir_missing(path, e));
        if let Some(t) = self.failing.failed(name, ch, text) {
            logger.log(Level::Warn, &t);
        }
    }

    /// Log file `path` of stream `ch` of `name` is open: say so if it had failed.
    fn opened(&mut self, name: &str, ch: Channel, path: &Path, logger: &mut Logger) {
        if let Some(t) = self.failing.opened(name, ch, path) {
            logger.log(Level::Info, &t);
        }
    }

    /// One read from pipe `k`; true when it filled the whole buffer (more
    /// may be waiting).
    fn read_once(&mut self, k: usize, now: Millis) -> bool {
        let Some(p) = self.pipes.get_mut(k) else {
            return false;
        };
        if p.eof {
            return false;
        }
        let buf = &mut self.scratch[..];
        let n = loop {
            match nix::unistd::read(p.fd.as_raw_fd(), buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => return false,
                Err(_) => break 0,
            }
        };
        if n == 0 {
            p.eof = true;
            p.exited = true;
            return false;
        }
        let data = &buf[..n.min(buf.len())];
        self.copied = self.copied.saturating_add(data.len() as u64);
        if let Some(f) = p.file.as_mut() {
            // supervisord writes each chunk whole, then checks the size: the
            // same rotation points. A failing write (disk full) loses the
            // chunk, never the loop.
            let _ = f.write(data);
        }
        if let Some(tap) = self.tap.as_mut() {
            tap(p.proc, p.channel, data);
        }
        if p.assembles() {
            p.lines.feed(data, now);
        }
        n == buf.len()
    }

    fn drain_lines(&mut self, now: Millis, logger: &mut Logger) {
        for p in &mut self.pipes {
            let force = p.exited;
            drain_pipe(p, &mut self.line, &mut self.syslog, now, force, logger);
        }
        self.pipes.retain(|p| !(p.eof && p.lines.backlog() == 0));
    }
}

/// The copy-free way to rinit's stream, while it has nothing queued: each
/// ready piece goes out as the prefix and the piece's own bytes in the
/// line buffer (a whole line with its own `\n`), many pieces per `writev`
/// (line-aligned and at most `PIPE_BUF` bytes on a pipe, as queued writes
/// are). When the consumer takes only part of a piece, the rest of that
/// piece is queued, so that no other line can land inside it; what is left
/// after a short write goes the queued way.
fn drain_direct(lines: &mut Lines, prefix: &[u8], w: &mut Writer, now: Millis, force: bool) {
    let limit = if w.atomic() { PIPE_BUF } else { BATCH };
    let mut cut_piece = Vec::new();
    while w.direct() {
        let data = lines.pending();
        let mut iov = [IoSlice::new(&[]); IOV_MAX];
        let mut k = 0;
        // (bytes written, bytes of `data` used up) at the end of each piece.
        let mut ends = [(0usize, 0usize); IOV_MAX / 2];
        let (mut pieces, mut at, mut total) = (0, 0, 0);
        while k + 4 <= IOV_MAX {
            let Some((len, skip, kind)) = lines.piece_at(at, now, force) else {
                break;
            };
            let size = rendered_len(prefix, len, kind);
            if pieces > 0 && total + size > limit {
                break;
            }
            if !prefix.is_empty() {
                iov[k] = IoSlice::new(prefix);
                k += 1;
            }
            let body = data.get(at..at + len).unwrap_or(&[]);
            match kind {
                // The line's own newline follows it in the buffer.
                Piece::Line => iov[k] = IoSlice::new(data.get(at..at + skip).unwrap_or(body)),
                Piece::Split | Piece::Partial => iov[k] = IoSlice::new(body),
            }
            k += 1;
            if kind == Piece::Split {
                iov[k] = IoSlice::new(SPLIT_MARKER);
                k += 1;
            }
            if kind != Piece::Line {
                iov[k] = IoSlice::new(b"\n");
                k += 1;
            }
            total += size;
            at += skip;
            ends[pieces] = (total, at);
            pieces += 1;
        }
        if pieces == 0 {
            return;
        }
        let n = w.write_vectored(&iov[..k]);
        let whole = ends[..pieces].iter().take_while(|e| e.0 <= n).count();
        let (written, mut used) = whole.checked_sub(1).map_or((0, 0), |i| ends[i]);
        let mut cut_at = 0;
        if n > written && whole < pieces {
            if let Some((len, skip, kind)) = lines.piece_at(used, now, force) {
                render(
                    &mut cut_piece,
                    prefix,
                    data.get(used..used + len).unwrap_or(&[]),
                    kind,
                );
                cut_at = n - written;
                used += skip;
            }
        }
        lines.consume(used);
        if let Some(rest) = cut_piece.get(cut_at..).filter(|r| !r.is_empty()) {
            // The queue is empty: this always fits.
            w.push_if_room(rest);
        }
        if n < total {
            return;
        }
    }
}

/// Hand pipe `p`'s assembled lines to rinit's stream and syslog as far as
/// they take them; `force`: a partial line goes out now. `batch` is scratch.
fn drain_pipe(
    p: &mut Pipe,
    batch: &mut Vec<u8>,
    sys: &mut Option<Syslog>,
    now: Millis,
    force: bool,
    logger: &mut Logger,
) {
    if p.lines.backlog() == 0 {
        return;
    }
    if let (Some(fd), None) = (p.console, &p.syslog) {
        drain_direct(&mut p.lines, &p.prefix, logger.stream(fd), now, force);
        if p.lines.backlog() == 0 {
            p.blocked = false;
            return;
        }
    }
    let (console, prefix, syslog) = (p.console, &p.prefix, &p.syslog);
    // Whole lines are gathered into one write of at most BATCH bytes
    // that rinit's queue has room for: one system call for many
    // lines, and still never a line cut by another program's.
    loop {
        batch.clear();
        let budget = console.map_or(usize::MAX, |fd| logger.stream(fd).room().min(BATCH));
        let before = p.lines.backlog();
        let mut refused = false;
        p.lines.drain(now, force, |piece, kind| {
            if console.is_some() {
                if batch.len() + rendered_len(prefix, piece.len(), kind) > budget {
                    refused = true;
                    return false;
                }
                render(batch, prefix, piece, kind);
            }
            if let (Some(tag), Some(s)) = (syslog, sys.as_mut()) {
                let mut msg = tag.clone();
                msg.extend_from_slice(piece);
                if kind == Piece::Split {
                    msg.extend_from_slice(super::prefix::SPLIT_MARKER);
                }
                s.send(&msg);
            }
            true
        });
        if let Some(fd) = console {
            if !batch.is_empty() {
                // Fits by construction (budget is the queue's room).
                logger.stream(fd).push_if_room(batch);
            }
        }
        p.blocked = refused && batch.is_empty();
        if refused {
            p.lines.touch(now);
        }
        let progressed = p.lines.backlog() < before;
        if !progressed || p.lines.backlog() == 0 || batch.is_empty() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::{fcntl, FcntlArg, OFlag};

    /// Everything the pipe holds now (non-blocking).
    fn read_now(fd: &OwnedFd) -> Vec<u8> {
        let fl = OFlag::from_bits_retain(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).unwrap());
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n @ 1..) = nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// What the queued way writes for `data` (whole lines, a cut line, a
    /// partial line at exit).
    fn rendered(prefix: &[u8], data: &[u8]) -> Vec<u8> {
        let mut l = Lines::default();
        l.feed(data, 0);
        let mut out = Vec::new();
        l.drain(0, true, |piece, kind| {
            render(&mut out, prefix, piece, kind);
            true
        });
        out
    }

    fn sample() -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..3000 {
            data.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 150)).as_bytes());
        }
        data.extend_from_slice(&vec![b'L'; super::super::prefix::MAX_LINE + 10_000]);
        data.extend_from_slice(b"\nno newline at exit");
        data
    }

    #[test]
    fn the_copy_free_way_writes_what_the_queued_way_writes() {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let _ = fcntl(w.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(1 << 20));
        let mut wr = Writer::for_fd(w.as_raw_fd(), 1 << 20, "stdout");
        assert!(wr.direct() && wr.atomic());
        let data = sample();
        let mut lines = Lines::default();
        lines.feed(&data, 0);
        drain_direct(&mut lines, b"web | ", &mut wr, 0, true);
        assert_eq!(lines.backlog(), 0);
        assert!(!wr.wants_pollout());
        let got = read_now(&r);
        assert!(got == rendered(b"web | ", &data), "output differs");
    }

    /// A consumer that takes part of a long line: the rest of that line is
    /// queued before anything else, so no other line lands inside it and
    /// no byte is lost or repeated.
    #[test]
    fn a_short_write_queues_the_rest_of_the_line_it_cut() {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let _ = fcntl(w.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(4096));
        let mut wr = Writer::for_fd(w.as_raw_fd(), 1 << 20, "stdout");
        let data = sample();
        let mut lines = Lines::default();
        lines.feed(&data, 0);
        let (mut got, mut cut) = (Vec::new(), false);
        for _ in 0..100_000 {
            if lines.backlog() == 0 && !wr.wants_pollout() {
                break;
            }
            wr.flush();
            drain_direct(&mut lines, b"a | ", &mut wr, 0, true);
            cut |= wr.pending() > 0;
            got.extend(read_now(&r));
        }
        got.extend(read_now(&r));
        assert!(cut, "the long line was never cut");
        assert_eq!(lines.backlog(), 0);
        assert!(got == rendered(b"a | ", &data), "output differs");
    }
}

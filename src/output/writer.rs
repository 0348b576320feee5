//! A bounded, never-blocking writer for one of rinit's own output streams
//! (fd 1 or 2, or a log file that is a pipe or a terminal).
//!
//! PID 1 must keep reaping and obeying signals when whoever reads its
//! stdout stalls (docs/output.md, "Never blocking"). Whole lines are queued
//! in a buffer of at most `cap` bytes; when a line does not fit it is dropped
//! and counted, and once the queue has drained one notice says how many
//! lines were lost and why.
//!
//! fd 1 is the open file description that AUTO children inherit, so rinit
//! must not set `O_NONBLOCK` on it (every child would then get EAGAIN). The
//! writer uses, in this order of preference:
//! * a pipe, FIFO or terminal: a private open file description of the same
//!   object, opened through `/proc/self/fd/N` with `O_NONBLOCK`;
//! * a socket: `send(MSG_DONTWAIT)`, which is non-blocking per call;
//! * a regular file or block device: plain writes (they do not wait for a
//!   reader);
//! * anything else, or when the reopen is refused (a root-owned pipe after
//!   the privilege drop): `poll(POLLOUT)` with a zero timeout, then at most
//!   `PIPE_BUF` bytes, which a writable pipe always takes without blocking.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Bytes a pipe that polls writable takes without blocking (POSIX PIPE_BUF).
pub const PIPE_BUF: usize = 4096;
/// Most buffers one `writev` takes (Linux's IOV_MAX).
pub const IOV_MAX: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Our own `O_NONBLOCK` open file description.
    Private,
    /// `send(MSG_DONTWAIT)` on a socket.
    Socket,
    /// A regular file: plain writes.
    Plain,
    /// `poll(POLLOUT, 0)` then one write of at most `PIPE_BUF` bytes.
    PollFirst,
}

pub struct Writer {
    /// The descriptor written to (borrowed from the caller unless `owned`).
    fd: RawFd,
    /// Keeps a descriptor rinit opened itself alive.
    _owned: Option<OwnedFd>,
    method: Method,
    queue: VecDeque<u8>,
    cap: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// The consumer failed for good (EPIPE, EBADF): stop trying.
    dead: bool,
    /// Name of the stream for the notice ("stdout", a path).
    what: String,
    /// A pipe or FIFO: AUTO children write to it too, so rinit writes whole
    /// lines of at most PIPE_BUF bytes, which the kernel writes atomically
    /// (all or EAGAIN): a child's line never lands inside one of rinit's.
    atomic: bool,
}

impl Writer {
    /// A writer for `fd` (which stays open and shared with children),
    /// queueing at most `cap` bytes.
    pub fn for_fd(fd: RawFd, cap: usize, what: &str) -> Writer {
        let (method, owned) = choose(fd);
        let fd_used = owned.as_ref().map_or(fd, |o| o.as_raw_fd());
        Writer::with(
            fd_used,
            owned,
            method,
            cap,
            what,
            file_type(fd) == Some(libc::S_IFIFO),
        )
    }

    /// A writer that owns `fd` (a log file rinit opened itself, with
    /// `O_NONBLOCK` already set when it is not a regular file).
    pub fn owning(fd: OwnedFd, cap: usize, what: &str) -> Writer {
        let raw = fd.as_raw_fd();
        let method = match file_type(raw) {
            Some(libc::S_IFREG) | Some(libc::S_IFBLK) => Method::Plain,
            Some(libc::S_IFSOCK) => Method::Socket,
            _ => Method::Private,
        };
        let atomic = file_type(raw) == Some(libc::S_IFIFO);
        Writer::with(raw, Some(fd), method, cap, what, atomic)
    }

    fn with(
        fd: RawFd,
        owned: Option<OwnedFd>,
        method: Method,
        cap: usize,
        what: &str,
        atomic: bool,
    ) -> Writer {
        Writer {
            fd,
            _owned: owned,
            method,
            queue: VecDeque::new(),
            cap,
            dropped_lines: 0,
            dropped_bytes: 0,
            dead: false,
            what: what.to_string(),
            atomic,
        }
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Bytes waiting.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Room left before lines get dropped.
    pub fn room(&self) -> usize {
        self.cap.saturating_sub(self.queue.len())
    }

    pub fn dropped(&self) -> (u64, u64) {
        (self.dropped_lines, self.dropped_bytes)
    }

    /// Queue one whole line (or record) and try to write it now. Returns
    /// false when it was dropped.
    pub fn push(&mut self, line: &[u8]) -> bool {
        if self.dead {
            return true;
        }
        if self.queue.is_empty() && self.dropped_lines == 0 {
            // The common case: nothing queued, the consumer keeps up.
            let n = self.write_some(line);
            if n == line.len() {
                return true;
            }
            self.queue.extend(&line[n..]);
            return true;
        }
        if line.len() > self.room() {
            self.dropped_lines = self.dropped_lines.saturating_add(1);
            self.dropped_bytes = self.dropped_bytes.saturating_add(line.len() as u64);
            return false;
        }
        self.queue.extend(line);
        self.flush();
        true
    }

    /// Queue `line` only if it fits (never dropping, never counting): the
    /// caller keeps it and reads no more from its source meanwhile, so a
    /// program writing faster than the consumer is throttled by its own
    /// pipe, not by rinit dropping its lines.
    pub fn push_if_room(&mut self, line: &[u8]) -> bool {
        if self.dead {
            return true;
        }
        if self.queue.is_empty() {
            let n = self.write_some(line);
            self.queue.extend(&line[n.min(line.len())..]);
            return true;
        }
        if line.len() > self.room() {
            self.flush();
            if line.len() > self.room() {
                return false;
            }
        }
        self.queue.extend(line);
        self.flush();
        true
    }

    /// Whether [`Writer::write_vectored`] may be used now: nothing queued
    /// (which must go first) and no drop notice owed, on a descriptor
    /// that is non-blocking or a regular file.
    pub fn direct(&self) -> bool {
        !self.dead
            && self.queue.is_empty()
            && self.dropped_lines == 0
            && matches!(self.method, Method::Private | Method::Plain)
    }

    /// A pipe or FIFO: writes must be line-aligned and at most `PIPE_BUF`
    /// bytes to stay whole (see the module comment).
    pub fn atomic(&self) -> bool {
        self.atomic
    }

    /// One non-blocking `writev` of `iov` (at most [`IOV_MAX`] buffers;
    /// [`Writer::direct`] must hold): the bytes taken, 0 when the consumer
    /// is full. A consumer gone for good takes everything (as
    /// [`Writer::push`] does: the output is dropped, PID 1 goes on).
    pub fn write_vectored(&mut self, iov: &[std::io::IoSlice]) -> usize {
        let total: usize = iov.iter().map(|b| b.len()).sum();
        if self.dead {
            return total;
        }
        let iov = iov.get(..IOV_MAX).unwrap_or(iov);
        let count = iov.len() as libc::c_int;
        loop {
            // SAFETY: IoSlice is ABI-compatible with `struct iovec` (std's
            // guarantee on Unix); `iov` holds `count` live slices the
            // kernel only reads.
            let r = unsafe { libc::writev(self.fd, iov.as_ptr().cast(), count) };
            match nix::errno::Errno::result(r) {
                Ok(n) => return n as usize,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => return 0,
                Err(_) => {
                    self.give_up();
                    return total;
                }
            }
        }
    }

    /// Whether the loop should wait for POLLOUT on [`Writer::raw_fd`].
    pub fn wants_pollout(&self) -> bool {
        !self.dead && !self.queue.is_empty()
    }

    /// Write as much of the queue as the consumer takes now. When the queue
    /// empties after drops, the notice is queued (and written if possible).
    pub fn flush(&mut self) {
        if !self.dead && !self.queue.is_empty() {
            // Contiguous, so that a write never ends at the ring's seam in
            // the middle of a line.
            self.queue.make_contiguous();
            let (a, _) = self.queue.as_slices();
            let n = write_from(self.fd, self.method, self.atomic, a);
            match n {
                Some(n) => {
                    self.queue.drain(..n.min(self.queue.len()));
                }
                None => self.give_up(),
            }
            if !self.queue.is_empty() {
                return;
            }
        }
        if self.queue.is_empty() && self.dropped_lines > 0 && !self.dead {
            let notice = format!(
                "{} WARN dropped {} line(s) ({} bytes) of output: {} was not being read fast enough\n",
                crate::log::timestamp(),
                self.dropped_lines,
                self.dropped_bytes,
                self.what
            );
            self.dropped_lines = 0;
            self.dropped_bytes = 0;
            let n = self.write_some(notice.as_bytes());
            self.queue.extend(&notice.as_bytes()[n..]);
        }
    }

    /// One non-blocking write; returns the bytes taken (0 when the consumer
    /// is full or gone).
    fn write_some(&mut self, buf: &[u8]) -> usize {
        if self.dead {
            return 0;
        }
        match write_from(self.fd, self.method, self.atomic, buf) {
            Some(n) => n,
            None => {
                self.give_up();
                0
            }
        }
    }

    /// EPIPE (nobody will ever read) or EBADF: stop writing to this stream
    /// for good; PID 1 goes on.
    fn give_up(&mut self) {
        self.dead = true;
        self.queue = VecDeque::new();
    }
}

/// Write as much of `buf` as the consumer takes now, in line-aligned
/// chunks of at most PIPE_BUF bytes when `atomic`; `None` when the consumer
/// is gone for good.
fn write_from(fd: RawFd, method: Method, atomic: bool, buf: &[u8]) -> Option<usize> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &buf[done..];
        let chunk = if atomic && rest.len() > PIPE_BUF {
            let head = &rest[..PIPE_BUF];
            // A line longer than PIPE_BUF cannot be atomic: it goes in
            // PIPE_BUF pieces.
            head.iter()
                .rposition(|&b| b == b'\n')
                .map_or(head, |i| &head[..=i])
        } else {
            rest
        };
        match raw_write(fd, method, chunk) {
            Outcome::Took(n) => {
                done += n;
                if n < chunk.len() {
                    return Some(done);
                }
            }
            Outcome::Full => return Some(done),
            Outcome::Dead => return None,
        }
    }
    Some(done)
}

enum Outcome {
    Took(usize),
    Full,
    Dead,
}

fn raw_write(fd: RawFd, method: Method, buf: &[u8]) -> Outcome {
    if buf.is_empty() {
        return Outcome::Took(0);
    }
    let mut len = buf.len();
    if method == Method::PollFirst {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // nix's poll wants a borrowed fd, which the bare `fd` (rinit's own
        // stdout or stderr) cannot give it safely.
        // SAFETY: `p` is one live pollfd the kernel writes `revents` into;
        // zero timeout.
        let r = unsafe { libc::poll(&mut p, 1, 0) };
        if p.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return Outcome::Dead;
        }
        if r <= 0 || p.revents & libc::POLLOUT == 0 {
            return Outcome::Full;
        }
        len = len.min(PIPE_BUF);
    }
    use nix::errno::Errno;
    use nix::sys::socket::{send, MsgFlags};
    let chunk = buf.get(..len).unwrap_or(buf);
    loop {
        let r = if method == Method::Socket {
            send(fd, chunk, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL)
        } else {
            // nix's write wants a borrowed fd, as poll above.
            // SAFETY: `chunk` is a live slice of `chunk.len()` bytes the
            // kernel only reads.
            Errno::result(unsafe { libc::write(fd, chunk.as_ptr().cast(), chunk.len()) }).map(|n| n as usize)
        };
        match r {
            Ok(0) => return Outcome::Full,
            Ok(n) => return Outcome::Took(n.min(len)),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Outcome::Full,
            Err(_) => return Outcome::Dead,
        }
    }
}

fn file_type(fd: RawFd) -> Option<libc::mode_t> {
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_mode & libc::S_IFMT)
}

/// How to write to `fd` without blocking and without changing what the
/// children sharing it see.
fn choose(fd: RawFd) -> (Method, Option<OwnedFd>) {
    match file_type(fd) {
        Some(libc::S_IFREG) | Some(libc::S_IFBLK) => (Method::Plain, None),
        Some(libc::S_IFSOCK) => (Method::Socket, None),
        Some(libc::S_IFIFO) | Some(libc::S_IFCHR) => match reopen_nonblocking(fd) {
            Some(o) => (Method::Private, Some(o)),
            None => (Method::PollFirst, None),
        },
        _ => (Method::PollFirst, None),
    }
}

/// A new open file description of what `fd` refers to, write-only and
/// non-blocking. Opening a pipe through /proc needs no reader to be waited
/// for (it has one, or writes fail with EPIPE as on the original).
fn reopen_nonblocking(fd: RawFd) -> Option<OwnedFd> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::{fstat, Mode};
    let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let new = nix::fcntl::open(format!("/proc/self/fd/{fd}").as_str(), flags, Mode::empty()).ok()?;
    // SAFETY: `new` was just opened and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    // Must be the same object: /proc/self/fd/N of a tty opens the tty, of a
    // pipe the pipe; a file opened by path elsewhere would not be.
    let same = match (fstat(fd), fstat(new)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino && x.st_rdev == y.st_rdev,
        _ => false,
    };
    same.then_some(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    use nix::fcntl::{fcntl, FcntlArg, OFlag};

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
    }

    fn flags(fd: RawFd) -> i32 {
        fcntl(fd, FcntlArg::F_GETFL).unwrap()
    }

    fn read_all(fd: RawFd) -> Vec<u8> {
        let nonblocking = OFlag::from_bits_retain(flags(fd)) | OFlag::O_NONBLOCK;
        fcntl(fd, FcntlArg::F_SETFL(nonblocking)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n @ 1..) = nix::unistd::read(fd, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn a_full_pipe_drops_whole_lines_then_says_how_many() {
        let (r, w) = pipe();
        let mut wr = Writer::for_fd(w.as_raw_fd(), 1000, "stdout");
        assert_eq!(wr.method(), Method::Private);
        // The shared descriptor keeps its blocking mode: children see no EAGAIN.
        assert_eq!(flags(w.as_raw_fd()) & libc::O_NONBLOCK, 0);
        let line = [b'x'; 99];
        let mut l = line.to_vec();
        l.push(b'\n');
        let mut dropped = 0;
        for _ in 0..2000 {
            if !wr.push(&l) {
                dropped += 1;
            }
        }
        assert!(dropped > 0);
        assert!(wr.pending() <= 1000);
        let got = read_all(r.as_raw_fd());
        wr.flush();
        let rest = read_all(r.as_raw_fd());
        let all = [got, rest].concat();
        let text = String::from_utf8(all).unwrap();
        for line in text.lines() {
            assert!(
                line == "x".repeat(99) || line.contains(" WARN dropped "),
                "{line:?}"
            );
        }
        assert!(text.ends_with(&format!(
            "WARN dropped {dropped} line(s) ({} bytes) of output: stdout was not being read fast enough\n",
            dropped * 100
        )));
        assert_eq!(text.lines().count(), 2000 - dropped + 1);
    }

    #[test]
    fn poll_first_never_blocks_either() {
        let (r, w) = pipe();
        let mut wr = Writer::for_fd(w.as_raw_fd(), 10_000, "stdout");
        wr.method = Method::PollFirst;
        wr.fd = w.as_raw_fd();
        for _ in 0..200 {
            wr.push(&[b'y'; 1000]);
        }
        assert!(wr.dropped().0 > 0);
        let got = read_all(r.as_raw_fd());
        assert!(!got.is_empty());
    }

    #[test]
    fn a_closed_reader_is_not_an_error() {
        let (r, w) = pipe();
        drop(r);
        let mut wr = Writer::for_fd(w.as_raw_fd(), 100, "stdout");
        // SIGPIPE is ignored by the test harness's default? Make sure.
        crate::signals::set_disposition(libc::SIGPIPE, libc::SIG_IGN);
        assert!(wr.push(b"a\n"));
        assert!(!wr.wants_pollout());
    }

    /// The figures in docs/output.md ("Never blocking"): cost per record
    /// of each method with a consumer that keeps up.
    /// `cargo test --release --lib writer_cost -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn writer_cost() {
        let (r, w) = pipe();
        // A consumer that keeps up: a 1 MiB pipe emptied between rounds, so
        // only the write path is measured, not waiting.
        let _ = fcntl(w.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(1 << 20));
        let mut line = [b'r'; 99].to_vec();
        line.push(b'\n');
        // Plain on the shared (blocking) descriptor is the old behaviour.
        for method in [Method::Plain, Method::Private, Method::PollFirst] {
            let mut wr = Writer::for_fd(w.as_raw_fd(), 1 << 20, "stdout");
            if method != Method::Private {
                wr.method = method;
                wr.fd = w.as_raw_fd();
            }
            let (rounds, n) = (50u32, 9000u32);
            let mut total = std::time::Duration::ZERO;
            for _ in 0..rounds {
                let t = std::time::Instant::now();
                for _ in 0..n {
                    assert!(wr.push(&line));
                }
                total += t.elapsed();
                assert!(!wr.wants_pollout());
                read_all(r.as_raw_fd());
            }
            let ns = total.as_nanos() / u128::from(rounds * n);
            println!("{method:?}: {ns} ns per 100-byte record");
        }
    }
}

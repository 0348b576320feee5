//! The control interface's listeners and connections (docs/control.md):
//! non-blocking sockets registered in the loop's `PollSet`, served one
//! request at a time per connection, every buffer and wait bounded.
//!
//! - A connection gets at most `REQUEST_TIMEOUT` to deliver a request once
//!   it has sent its first byte, and `WRITE_TIMEOUT` for each bit of write
//!   progress; an idle keep-alive connection is kept (supervisorctl's shell
//!   reuses one) until `IDLE_TIMEOUT` or until a new client needs its slot.
//! - A deferred answer (start/stop with wait) keeps its connection pending
//!   with no deadline: the loop re-polls it after each pass.

use super::http::{self, Parsed};
use super::rpc::{self, Call, Control, Deferred};
use super::xmlrpc;
use crate::config::ServerConfig;
use crate::log::Level;
use crate::machine::Millis;
use crate::pollset::{PollSet, Slot};
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// Most connections open at once (listeners are not polled beyond it,
/// after the oldest idle connection has been closed to make room).
pub const MAX_CONNECTIONS: usize = 128;
pub const REQUEST_TIMEOUT: Millis = 10_000;
pub const WRITE_TIMEOUT: Millis = 30_000;
pub const IDLE_TIMEOUT: Millis = 30 * 60_000;
/// Rest after an accept error (out of descriptors, …).
const ACCEPT_PAUSE: Millis = 1000;

enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

struct Listener {
    sock: Socket,
    /// `[unix_http_server]` / `[inet_http_server]`, for messages.
    section: String,
    auth: Option<(String, String)>,
    /// The socket file, removed when the server goes away.
    path: Option<PathBuf>,
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn fd(&self) -> RawFd {
        match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }

    /// `send` with MSG_NOSIGNAL: a client gone away is EPIPE, never SIGPIPE.
    fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
        use nix::sys::socket::{send, MsgFlags};
        Ok(send(self.fd(), buf, MsgFlags::MSG_NOSIGNAL)?)
    }
}

struct Conn {
    stream: Stream,
    listener: usize,
    peer: String,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// Close once `out` is written.
    close_after: bool,
    pending: Option<(Deferred, bool)>,
    /// `tail -f`: the log followed on this connection.
    tail: Option<Tail>,
    /// When the connection is closed unless something happens.
    deadline: Option<Millis>,
    last_active: Millis,
    closed: bool,
    /// The peer sent EOF: answer what it sent, then close.
    peer_closed: bool,
    /// A response went out with input already buffered: parse it.
    recheck: bool,
}

impl Conn {
    /// Idle between requests: may be closed to make room for a new client.
    fn evictable(&self) -> bool {
        self.wants_read() && self.inbuf.is_empty()
    }

    fn wants_read(&self) -> bool {
        self.pending.is_none() && self.tail.is_none() && self.out_pos >= self.out.len() && !self.close_after
    }
}

/// supervisord's `tail_f_producer`: a log file followed by size, checked
/// every 100 ms while the connection exists, reopened when rotated.
struct Tail {
    path: String,
    ino: u64,
    size: u64,
    next_check: Millis,
}

/// supervisord's `tail_f_producer` delay.
const TAIL_CHECK_EVERY: Millis = 100;
/// Most bytes sent per check (the rest follows at the next one).
const TAIL_CHUNK: u64 = 64 * 1024;

fn file_id(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| (m.ino(), m.len()))
}

impl Tail {
    /// Start `head` bytes before the end, as supervisord does.
    fn new(path: &str, head: u64, now: Millis) -> Option<Tail> {
        let (ino, len) = file_id(path)?;
        Some(Tail {
            path: path.to_string(),
            ino,
            size: len.saturating_sub(head),
            next_check: now,
        })
    }

    /// New bytes since the last check (empty when none).
    fn more(&mut self) -> Vec<u8> {
        use std::io::{Read, Seek, SeekFrom};
        let Some((ino, len)) = file_id(&self.path) else {
            return Vec::new();
        };
        if ino != self.ino {
            self.ino = ino;
            self.size = 0;
        }
        if len < self.size {
            self.size = 0;
            return b"==> File truncated <==\n".to_vec();
        }
        if len == self.size {
            return Vec::new();
        }
        let mut buf = Vec::new();
        if let Ok(mut f) = rpc::open_regular(&self.path, false) {
            if f.seek(SeekFrom::Start(self.size)).is_ok() {
                let _ = f.take((len - self.size).min(TAIL_CHUNK)).read_to_end(&mut buf);
            }
        }
        self.size += buf.len() as u64;
        buf
    }
}

/// One HTTP/1.1 chunk.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

pub struct Server {
    listeners: Vec<Listener>,
    conns: Vec<Conn>,
    /// This pass's slots: listeners first, then connections.
    listener_slots: Vec<Option<Slot>>,
    /// After an accept error (EMFILE…), listeners rest until then instead
    /// of spinning on a readable listener that cannot be accepted.
    accept_paused_until: Option<Millis>,
    conn_slots: Vec<Slot>,
}

/// What `Server::bind` found wrong: supervisord's start-up error text.
pub type BindError = String;

fn bind_unix(cfg: &ServerConfig, path: &str) -> Result<UnixListener, BindError> {
    let p = std::path::Path::new(path);
    if std::fs::symlink_metadata(p).is_ok() {
        // supervisord: a live socket means another supervisord owns it;
        // a dead one is stale and removed.
        if UnixStream::connect(p).is_ok() {
            return Err("Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.".into());
        }
        let _ = std::fs::remove_file(p);
    }
    let l = UnixListener::bind(p)
        .map_err(|e| format!("Cannot open an HTTP server: socket.error reported {e}"))?;
    let mode = cfg
        .chmod
        .as_deref()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0o700);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("Could not change permissions of socket file: {e}"))?;
    if let Some(spec) = &cfg.chown {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        let user = crate::users::resolve(u).map_err(|e| format!("Invalid sockchown value {spec}: {e}"))?;
        let gid = match g {
            Some(g) => crate::users::group_id(g).ok_or_else(|| format!("Invalid sockchown value {spec}"))?,
            None => user.gid,
        };
        std::os::unix::fs::chown(p, Some(user.uid), Some(gid))
            .map_err(|e| format!("Could not chown socket file: {e}"))?;
    }
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(l)
}

/// `host` as an address: an IP, `localhost`, or all interfaces for `*`
/// and empty. Names are not resolved: no DNS resolver in PID 1 (and ~15 KB
/// less in the static binary); docs/control.md.
pub fn inet_addr(host: &str, port: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{IpAddr, Ipv4Addr};
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("cannot use host {h}: rinit takes an IP address or localhost"))?,
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port {port}"))?;
    Ok(std::net::SocketAddr::new(ip, port))
}

fn bind_inet(host: &str, port: &str) -> Result<TcpListener, BindError> {
    let addr = inet_addr(host, port).map_err(|e| format!("Cannot open an HTTP server: {e}"))?;
    let l = TcpListener::bind(addr).map_err(|e| {
        if e.kind() == ErrorKind::AddrInUse {
            "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.".to_string()
        } else {
            format!("Cannot open an HTTP server: socket.error reported {e}")
        }
    })?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(l)
}

/// The start-up warning for an `[inet_http_server]` any host can reach
/// without a password (also for `rinit check`).
pub fn open_inet_warning(cfg: &ServerConfig) -> Option<String> {
    if cfg.kind != "inet_http_server" || cfg.password.is_some() {
        return None;
    }
    let host = cfg.host.as_deref().unwrap_or("");
    let loopback = host == "localhost" || host.starts_with("127.") || host == "::1";
    (!loopback).then(|| {
        format!(
            "[{}] listens on {}:{} without a password: anyone who can reach it controls every program",
            cfg.section,
            if host.is_empty() { "*" } else { host },
            cfg.port.as_deref().unwrap_or("")
        )
    })
}

impl Server {
    /// Open every configured server. `Ok(None)` when none is configured.
    pub fn bind(configs: &[ServerConfig]) -> Result<Option<Server>, BindError> {
        if configs.is_empty() {
            return Ok(None);
        }
        let mut listeners = Vec::new();
        for cfg in configs {
            let auth = match (&cfg.username, &cfg.password) {
                (Some(u), Some(p)) => Some((u.clone(), p.clone())),
                _ => None,
            };
            let (sock, path) = match (&cfg.file, &cfg.host, &cfg.port) {
                (Some(f), _, _) => (Socket::Unix(bind_unix(cfg, f)?), Some(PathBuf::from(f))),
                (None, Some(h), Some(p)) => (Socket::Tcp(bind_inet(h, p)?), None),
                _ => continue,
            };
            listeners.push(Listener {
                sock,
                section: cfg.section.clone(),
                auth,
                path,
            });
        }
        Ok(Some(Server {
            listeners,
            conns: Vec::new(),
            listener_slots: Vec::new(),
            conn_slots: Vec::new(),
            accept_paused_until: None,
        }))
    }

    /// The nearest connection deadline (none while no connection exists).
    pub fn deadline(&self) -> Option<Millis> {
        let pending = self
            .conns
            .iter()
            .filter_map(|c| c.pending.as_ref().and_then(|(d, _)| d.wake_at()));
        let tails = self
            .conns
            .iter()
            .filter_map(|c| c.tail.as_ref().map(|t| t.next_check));
        self.conns
            .iter()
            .filter_map(|c| c.deadline)
            .chain(pending)
            .chain(tails)
            .chain(self.accept_paused_until)
            // Buffered input to parse: at once.
            .chain(self.conns.iter().filter(|c| c.recheck).map(|_| 0))
            .min()
    }

    /// Add this pass's descriptors to `set`.
    pub fn register(&mut self, set: &mut PollSet) {
        // Watch the listeners only when an accept can succeed: below the
        // cap, or with an idle connection to evict (never spin on them).
        let room = (self.conns.len() < MAX_CONNECTIONS || self.conns.iter().any(Conn::evictable))
            && self.accept_paused_until.is_none();
        self.listener_slots.clear();
        for l in &self.listeners {
            let fd = match &l.sock {
                Socket::Unix(s) => s.as_raw_fd(),
                Socket::Tcp(s) => s.as_raw_fd(),
            };
            self.listener_slots.push(room.then(|| set.add(fd, libc::POLLIN)));
        }
        self.conn_slots.clear();
        for c in &self.conns {
            let mut ev = 0;
            if c.wants_read() || c.tail.is_some() {
                ev |= libc::POLLIN;
            }
            if c.out_pos < c.out.len() {
                ev |= libc::POLLOUT;
            }
            // A pending connection is still watched for hang-up (events 0).
            self.conn_slots.push(set.add(c.stream.fd(), ev));
        }
    }

    /// Serve what `set` reported, then expire deadlines and answer the
    /// deferred calls that are now done.
    pub fn dispatch(&mut self, set: &PollSet, now: Millis, ctl: &mut dyn Control) {
        if self.accept_paused_until.is_some_and(|t| now >= t) {
            self.accept_paused_until = None;
        }
        let slots = std::mem::take(&mut self.conn_slots);
        for (ci, slot) in slots.iter().enumerate() {
            let rev = set.revents(*slot);
            if rev == 0 {
                continue;
            }
            if let Some(c) = self.conns.get_mut(ci) {
                if rev & libc::POLLOUT != 0 {
                    flush(c, now);
                }
                if rev & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    if c.tail.is_some() {
                        // A follower sends nothing that matters (supervisorctl
                        // ends its GET with an extra CRLF): discard; EOF = gone.
                        let mut b = [0u8; 256];
                        match c.stream.read(&mut b) {
                            Ok(0) => c.closed = true,
                            Ok(_) => {}
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                            Err(_) => c.closed = true,
                        }
                    } else if c.wants_read() || c.pending.is_none() {
                        self.read_conn(ci, now, ctl);
                    } else if rev & (libc::POLLHUP | libc::POLLERR) != 0 {
                        c.closed = true;
                    }
                }
            }
        }
        let lslots = std::mem::take(&mut self.listener_slots);
        for (li, slot) in lslots.iter().enumerate() {
            if let Some(s) = slot {
                if set.readable(*s) {
                    self.accept(li, now, ctl);
                }
            }
        }
        self.poll_pending(now, ctl);
        // Requests that arrived while the previous answer was going out.
        for ci in 0..self.conns.len() {
            if self.conns.get(ci).is_some_and(|c| c.recheck && c.wants_read()) {
                if let Some(c) = self.conns.get_mut(ci) {
                    c.recheck = false;
                }
                self.process_buffer(ci, now, ctl);
            }
        }
        for c in &mut self.conns {
            if c.closed || c.out_pos < c.out.len() {
                continue;
            }
            if let Some(t) = c.tail.as_mut() {
                if now >= t.next_check {
                    t.next_check = now + TAIL_CHECK_EVERY;
                    let data = t.more();
                    if !data.is_empty() {
                        queue_raw(c, chunk(&data), true, now);
                        c.deadline = None;
                    }
                }
            }
        }
        for c in &mut self.conns {
            if c.deadline.is_some_and(|d| now >= d) {
                if !c.inbuf.is_empty() && c.out_pos >= c.out.len() {
                    // A request that did not arrive in time: 408, best effort.
                    let _ = c.stream.write(&http::error_response(408));
                }
                c.closed = true;
            }
        }
        self.conns.retain(|c| !c.closed);
    }

    /// Answer the deferred calls that are done (called after every pass).
    pub fn poll_pending(&mut self, now: Millis, ctl: &mut dyn Control) {
        for c in &mut self.conns {
            if let Some((d, keep)) = c.pending.as_mut() {
                if let Some(r) = d.poll(ctl, now) {
                    let keep = *keep;
                    c.pending = None;
                    queue(c, rpc_body(r), keep, now);
                }
            }
        }
    }

    fn accept(&mut self, li: usize, now: Millis, ctl: &mut dyn Control) {
        // Up to a few per pass so one busy listener cannot starve the loop.
        for _ in 0..16 {
            // At the cap, accept only if an idle connection can make room
            // (never one accepted in this pass: its request is still unread).
            let full = self.conns.len() >= MAX_CONNECTIONS;
            if full && !self.conns.iter().any(|c| c.evictable() && c.last_active < now) {
                return;
            }
            let Some(l) = self.listeners.get(li) else { return };
            let accepted = match &l.sock {
                Socket::Unix(s) => s
                    .accept()
                    .map(|(s, _)| (Stream::Unix(s), "unix socket".to_string())),
                Socket::Tcp(s) => s.accept().map(|(s, a)| (Stream::Tcp(s), a.to_string())),
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    let msg = format!("[{}] accept failed: {e}; not accepting for 1 s", l.section);
                    ctl.log(Level::Warn, &msg);
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
            };
            let nb = match &stream {
                Stream::Unix(s) => s.set_nonblocking(true),
                Stream::Tcp(s) => s.set_nonblocking(true),
            };
            if nb.is_err() {
                continue;
            }
            if full {
                self.evict_idle(now, ctl);
            }
            self.conns.push(Conn {
                stream,
                listener: li,
                peer,
                inbuf: Vec::new(),
                out: Vec::new(),
                out_pos: 0,
                close_after: false,
                pending: None,
                tail: None,
                deadline: Some(now + IDLE_TIMEOUT),
                last_active: now,
                closed: false,
                peer_closed: false,
                recheck: false,
            });
        }
    }

    /// Close the least recently active idle connection; false if none is idle.
    fn evict_idle(&mut self, now: Millis, ctl: &mut dyn Control) -> bool {
        let victim = self
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.evictable() && c.last_active < now)
            .min_by_key(|(_, c)| c.last_active)
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                let c = self.conns.remove(i);
                ctl.log(
                    Level::Debg,
                    &format!(
                        "closing the idle control connection from {} for a new client",
                        c.peer
                    ),
                );
                true
            }
            None => false,
        }
    }

    /// Not inlined: its 16 KiB buffer would otherwise sit in the event
    /// loop's frame, whose pages are touched (stack probes) at start-up
    /// even when no client ever connects.
    #[inline(never)]
    fn read_conn(&mut self, ci: usize, now: Millis, ctl: &mut dyn Control) {
        let Some(c) = self.conns.get_mut(ci) else { return };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    // The peer may have half-closed after its request.
                    c.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    if c.inbuf.is_empty() {
                        c.deadline = Some(now + REQUEST_TIMEOUT);
                    }
                    c.inbuf.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                    c.last_active = now;
                    if c.inbuf.len() > http::MAX_REQUEST + http::MAX_HEAD {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.closed = true;
                    return;
                }
            }
        }
        self.process_buffer(ci, now, ctl);
    }

    /// Answer the request at the start of the connection's input, if whole.
    fn process_buffer(&mut self, ci: usize, now: Millis, ctl: &mut dyn Control) {
        let Some(c) = self.conns.get_mut(ci) else { return };
        // One request at a time: the next is parsed once this answer is out
        // (`recheck`), never over a response still being written.
        if c.pending.is_some() || c.tail.is_some() || c.out_pos < c.out.len() || c.close_after {
            return;
        }
        let auth = self.listeners.get(c.listener).and_then(|l| l.auth.clone());
        match http::parse(&c.inbuf) {
            Parsed::Partial => {
                if c.peer_closed {
                    c.closed = true;
                }
            }
            Parsed::Bad(status) => {
                ctl.log(
                    Level::Warn,
                    &format!("control request from {} refused: HTTP {status}", c.peer),
                );
                c.inbuf.clear();
                queue_raw(c, http::error_response(status), false, now);
            }
            Parsed::Done(mut req, used) => {
                c.inbuf.drain(..used.min(c.inbuf.len()));
                req.keep_alive &= !c.peer_closed;
                if let Some((u, p)) = &auth {
                    if !http::authorized(req.authorization.as_deref(), u, p) {
                        queue_raw(
                            c,
                            http::response(
                                401,
                                "text/html",
                                b"<html><body><h1>Unauthorized</h1></body></html>",
                                false,
                            ),
                            false,
                            now,
                        );
                        return;
                    }
                }
                if req.method == "GET" && (req.path.starts_with("/logtail/") || req.path == "/mainlogtail") {
                    let path = if req.path == "/mainlogtail" {
                        ctl.main_logfile()
                    } else {
                        let rest = req.path.trim_start_matches("/logtail/");
                        let (name, channel) = rest.split_once('/').unwrap_or((rest, "stdout"));
                        rpc::logfile_of(ctl, &percent_decode(name), channel)
                    };
                    match path.and_then(|p| Tail::new(&p, 1024, now)) {
                        Some(t) => {
                            let head = "HTTP/1.1 200 OK\r\nServer: rinit\r\nContent-Type: text/plain;charset=utf-8\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n";
                            queue_raw(c, head.as_bytes().to_vec(), true, now);
                            c.tail = Some(t);
                            c.deadline = None;
                        }
                        None => queue_raw(c, http::error_response(404), false, now),
                    }
                    return;
                }
                if req.method != "POST" {
                    let status = if req.path.starts_with("/RPC2") { 405 } else { 404 };
                    queue_raw(c, http::error_response(status), false, now);
                    return;
                }
                if !req.path.starts_with("/RPC2") {
                    queue_raw(c, http::error_response(404), false, now);
                    return;
                }
                let (method, params) = match xmlrpc::parse_call(&req.body) {
                    Ok(x) if !x.0.is_empty() => x,
                    Ok(_) => {
                        ctl.log(
                            Level::Erro,
                            &format!("XML-RPC request from {} is invalid: no method name", c.peer),
                        );
                        queue_raw(c, http::error_response(400), false, now);
                        return;
                    }
                    Err(e) => {
                        ctl.log(
                            Level::Erro,
                            &format!("XML-RPC request from {} is invalid: {}", c.peer, e.0),
                        );
                        queue_raw(c, http::error_response(400), false, now);
                        return;
                    }
                };
                match rpc::call(ctl, &method, &params, now) {
                    Call::Done(r) => queue(c, rpc_body(r), req.keep_alive, now),
                    Call::Wait(d) => {
                        c.pending = Some((d, req.keep_alive));
                        c.deadline = None;
                    }
                }
            }
        }
    }
}

/// `%XX` escapes in a URL path (supervisorctl quotes the process name).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rpc_body(r: Result<xmlrpc::Value, rpc::Fault>) -> String {
    match r {
        Ok(v) => xmlrpc::response(&v),
        Err(f) => xmlrpc::fault(f.code, &f.text),
    }
}

fn queue(c: &mut Conn, body: String, keep_alive: bool, now: Millis) {
    queue_raw(
        c,
        http::response(200, "text/xml", body.as_bytes(), keep_alive),
        keep_alive,
        now,
    );
}

fn queue_raw(c: &mut Conn, bytes: Vec<u8>, keep_alive: bool, now: Millis) {
    c.out = bytes;
    c.out_pos = 0;
    c.close_after = !keep_alive;
    flush(c, now);
}

/// Write what the socket takes now; the rest waits for POLLOUT.
fn flush(c: &mut Conn, now: Millis) {
    while c.out_pos < c.out.len() {
        match c.stream.write(c.out.get(c.out_pos..).unwrap_or(&[])) {
            Ok(0) => break,
            Ok(n) => {
                c.out_pos += n;
                c.last_active = now;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.closed = true;
                return;
            }
        }
    }
    if c.out_pos < c.out.len() {
        c.deadline = Some(now + WRITE_TIMEOUT);
        return;
    }
    c.out.clear();
    c.out_pos = 0;
    if c.close_after {
        c.closed = true;
    } else if c.tail.is_some() {
        // A follower has no deadline while it keeps reading.
        c.deadline = None;
    } else {
        c.recheck = !c.inbuf.is_empty();
        c.deadline = Some(if c.inbuf.is_empty() {
            now + IDLE_TIMEOUT
        } else {
            now + REQUEST_TIMEOUT
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for l in &self.listeners {
            if let Some(p) = &l.path {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

//! Records to the local syslog daemon (`/dev/log`), as supervisord's Python
//! `syslog.syslog()` sends them: facility user, priority info, tagged with
//! the basename of argv[0], no pid (`<14>Nov 28 23:30:20 rinit: web line`).
//! Datagrams are sent with MSG_DONTWAIT: a stalled or missing syslog
//! daemon loses records, it never blocks PID 1.

use nix::errno::Errno;
use nix::sys::socket::{send, MsgFlags};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Syslog {
    sock: Option<OwnedFd>,
    ident: String,
    path: &'static [u8],
}

impl Syslog {
    pub fn new() -> Syslog {
        let ident = crate::cli::program_name().to_string();
        Syslog {
            sock: None,
            ident,
            path: b"/dev/log",
        }
    }

    fn connect(path: &[u8]) -> Option<OwnedFd> {
        use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
        let sock = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .ok()?;
        let addr = UnixAddr::new(path).ok()?;
        connect(sock.as_raw_fd(), &addr).ok()?;
        Some(sock)
    }

    /// Send one message (already without its newline).
    pub fn send(&mut self, msg: &[u8]) {
        let mut rec = format!("<14>{} {}: ", stamp(), self.ident).into_bytes();
        rec.extend_from_slice(msg);
        for _ in 0..2 {
            if self.sock.is_none() {
                self.sock = Syslog::connect(self.path);
            }
            let Some(s) = self.sock.as_ref() else { return };
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
            if matches!(send(s.as_raw_fd(), &rec, flags), Ok(_) | Err(Errno::EAGAIN)) {
                return;
            }
            // The daemon restarted (ECONNREFUSED/ENOTCONN): reconnect once.
            self.sock = None;
        }
    }
}

impl Default for Syslog {
    fn default() -> Self {
        Syslog::new()
    }
}

/// `Nov 28 23:30:20` (syslog's RFC 3164 time, local).
fn stamp() -> String {
    let Some(tm) = crate::sys::local_time(crate::sys::now_realtime().0) else {
        return String::new();
    };
    let mon = crate::sys::month_abbr(&tm);
    format!(
        "{mon} {:>2} {:02}:{:02}:{:02}",
        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn records_are_tagged_like_pythons_syslog() {
        let dir = std::env::temp_dir().join(format!("rinit-syslog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let leaked: &'static [u8] = Box::leak(path.display().to_string().into_bytes().into_boxed_slice());
        let mut s = Syslog {
            sock: None,
            ident: "rinit".into(),
            path: leaked,
        };
        s.send(b"web GET / 200");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(got.starts_with("<14>"), "{got}");
        assert!(got.ends_with(" rinit: web GET / 200"), "{got}");
        assert_eq!(
            got.len(),
            "<14>Nov 28 23:30:20 rinit: web GET / 200".len(),
            "{got}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

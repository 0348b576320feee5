//! Records to the local syslog daemon (`/dev/log`), as supervisord's Python
//! `syslog.syslog()` sends them: facility user, priority info, tagged with
//! the basename of argv[0], no pid (`<14>Nov 28 23:30:20 rinit: web line`).
//! Datagrams are sent with MSG_DONTWAIT: a stalled or missing syslog
//! daemon loses records, it never blocks PID 1.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Syslog {
    sock: Option<OwnedFd>,
    ident: String,
    path: &'static [u8],
}

impl Syslog {
    pub fn new() -> Syslog {
        let ident = std::env::args()
            .next()
            .and_then(|a| a.rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| "rinit".to_string());
        Syslog {
            sock: None,
            ident,
            path: b"/dev/log",
        }
    }

    fn connect(path: &[u8]) -> Option<OwnedFd> {
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: just created, owned by nobody else.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero sockaddr_un is valid; the path is copied in.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path.iter_mut().zip(path) {
            *d = *s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_un of `len` bytes.
        let r = unsafe { libc::connect(sock.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) };
        (r == 0).then_some(sock)
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
            // SAFETY: rec is valid for its length.
            let n = unsafe {
                libc::send(
                    s.as_raw_fd(),
                    rec.as_ptr().cast(),
                    rec.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
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
    // SAFETY: time(NULL) cannot fail; tm is a valid out-buffer.
    let t = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero tm is a valid value to be overwritten.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers valid for the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return String::new();
    }
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = MON.get(tm.tm_mon as usize).copied().unwrap_or("Jan");
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

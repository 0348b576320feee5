//! Signals as data: every catchable signal is blocked and read from a
//! signalfd in the one `poll` loop (catatonit's design), so no handler ever
//! runs at an awkward moment and nothing is lost or reordered.

use std::io;

/// Signals that must stay deliverable: faults raised by rinit's own code.
const SYNCHRONOUS: [i32; 6] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGTRAP, libc::SIGSYS];

/// The signalfd and the mask that was in force before it, so children can
/// be given a clean state.
pub struct SignalFd {
    fd: i32,
}

impl SignalFd {
    /// Reset every disposition to default (an init inherits whatever its
    /// launcher left, e.g. SIGPIPE ignored; ignored signals would never
    /// reach the signalfd), block every catchable signal, open the fd.
    pub fn install() -> io::Result<SignalFd> {
        reset_dispositions();
        let mask = catchable_mask();
        // SAFETY: mask is a valid sigset_t.
        if unsafe { libc::sigprocmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: mask is valid; flags are constants.
        let fd = unsafe { libc::signalfd(-1, &mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SignalFd { fd })
    }

    pub fn raw(&self) -> i32 {
        self.fd
    }

    /// Every pending signal, in arrival order (the fd is non-blocking).
    pub fn drain(&self) -> Vec<i32> {
        let mut sigs = Vec::new();
        loop {
            // SAFETY: an all-zero signalfd_siginfo is valid to overwrite.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: info is a writable buffer of `size` bytes.
            let n = unsafe { libc::read(self.fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
            if n == size as isize {
                sigs.push(info.ssi_signo as i32);
                continue;
            }
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return sigs;
        }
    }
}

impl Drop for SignalFd {
    fn drop(&mut self) {
        // SAFETY: closing our own fd.
        unsafe { libc::close(self.fd) };
    }
}

fn catchable_mask() -> libc::sigset_t {
    // SAFETY: sigfillset/sigdelset initialise and edit a local sigset_t.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut mask);
        for s in SYNCHRONOUS {
            libc::sigdelset(&mut mask, s);
        }
        mask
    }
}

fn reset_dispositions() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting SIG_DFL; failures (reserved RT signals) are harmless.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Wait until the signalfd is readable or `timeout_ms` passes (-1: forever).
pub fn poll_readable(fd: i32, timeout_ms: i32) {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd. EINTR cannot happen with every signal
    // blocked, and any other error just ends this wait early.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
}

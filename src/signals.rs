//! Signals as data: every signal rinit can block is blocked and read from a
//! signalfd in the one `poll` loop (catatonit's design), so no handler ever
//! runs at an awkward moment and nothing is lost or reordered. This module
//! also owns the signal state a child gets back before exec.
//!
//! The mask and the signalfd are set through raw system calls with all 64
//! bits: the C library hides 32-34 (its threads and timers) from
//! `sigfillset`, and a signal it hides would still kill rinit. Synchronous
//! faults are blocked too: the kernel delivers a real fault regardless of the
//! mask (and rinit dies of it, as it must), while a `kill -SEGV` from outside
//! only arrives as data.

use std::io;

/// Highest signal number on Linux (SIGRTMAX).
const MAX_SIGNAL: libc::c_int = 64;
/// Every signal; the kernel silently leaves out SIGKILL and SIGSTOP.
const ALL_SIGNALS: u64 = !0;
/// The kernel's sigset size, in bytes.
const KERNEL_SIGSET_SIZE: usize = std::mem::size_of::<u64>();

pub struct SignalFd {
    fd: i32,
}

impl SignalFd {
    /// Reset every disposition to default (an init inherits whatever its
    /// launcher left, e.g. SIGPIPE ignored; an ignored signal would never
    /// reach the signalfd), block every signal, open the fd.
    pub fn install() -> io::Result<SignalFd> {
        reset_dispositions();
        let mask = ALL_SIGNALS;
        // SAFETY: rt_sigprocmask with a valid 8-byte kernel sigset.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &mask as *const u64,
                0usize,
                KERNEL_SIGSET_SIZE,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: signalfd4 with a valid 8-byte kernel sigset and constant flags.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &mask as *const u64,
                KERNEL_SIGSET_SIZE,
                libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SignalFd { fd: fd as i32 })
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

/// Stop rinit itself with `sig` (SIGTSTP, SIGTTIN or SIGTTOU), as the
/// terminal stopped its child, so that the shell sees its job stop and
/// takes the terminal back. Returns once rinit is continued (the SIGCONT
/// also arrives on the signalfd). `sig` is unblocked only for the moment of
/// the `kill`, which delivers it before returning; in an orphaned process
/// group the kernel discards it and this returns at once, as nobody could
/// continue rinit there.
pub fn stop_self(sig: libc::c_int) {
    if !(1..=MAX_SIGNAL).contains(&sig) {
        return;
    }
    let set: u64 = 1 << (sig - 1);
    let mask = |how: libc::c_int| {
        // SAFETY: rt_sigprocmask with a valid 8-byte kernel sigset.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                how,
                &set as *const u64,
                0usize,
                KERNEL_SIGSET_SIZE,
            )
        }
    };
    mask(libc::SIG_UNBLOCK);
    // SAFETY: a signal to ourselves.
    unsafe { libc::kill(libc::getpid(), sig) };
    mask(libc::SIG_BLOCK);
}

/// Wait until the signalfd is readable or `timeout_ms` passes (-1: forever).
pub fn poll_readable(fd: i32, timeout_ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd. EINTR cannot happen with every signal
    // blocked, and any other error just ends this wait early.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
}

/// Async-signal-safe: used in the forked child too.
pub fn set_disposition(sig: libc::c_int, handler: libc::sighandler_t) -> bool {
    // SAFETY: a zeroed sigaction is valid; we set handler, empty mask, no flags.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut()) == 0
    }
}

/// The kernel's `struct sigaction` where its layout is known: handler,
/// flags, restorer (these architectures define SA_RESTORER), mask.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// SIG_DFL straight through `rt_sigaction`, for the numbers libc refuses
/// to touch (32-34). They can still arrive ignored from whoever started
/// rinit (measured: under `cargo test` 32 and 33 are SIG_IGN), and SIG_IGN
/// survives exec.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn raw_default_disposition(sig: libc::c_int) {
    let sa = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: a valid kernel sigaction; the old action is not requested.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &sa as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET_SIZE,
        )
    };
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn raw_default_disposition(_sig: libc::c_int) {}

/// Every signal back to its default action (async-signal-safe). Ignored
/// signals survive `exec` (SIGPIPE and SIGXFSZ from the Rust runtime and
/// supervisord's Python are the classic leak).
pub fn reset_dispositions() {
    for sig in 1..=MAX_SIGNAL {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        if !set_disposition(sig, libc::SIG_DFL) {
            raw_default_disposition(sig);
        }
    }
}

/// An empty signal mask, all 64 bits (async-signal-safe): the child of a
/// process that blocks everything must not inherit that.
pub fn unblock_all() {
    let empty: u64 = 0;
    // SAFETY: rt_sigprocmask with a valid 8-byte kernel sigset.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            0usize,
            KERNEL_SIGSET_SIZE,
        )
    };
}

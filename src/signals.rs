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
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Every disposition of this process is SIG_DFL: set once
/// `SignalFd::install` has reset them (rinit installs no handler, it reads
/// signals from the signalfd), cleared by any [`set_disposition`]. A child
/// forked meanwhile inherits them clean and skips its own reset: 62 system
/// calls in every child (docs/design.md, "Spawning").
static ALL_DEFAULT: AtomicBool = AtomicBool::new(false);

/// Highest signal number on Linux (SIGRTMAX).
const MAX_SIGNAL: libc::c_int = 64;
/// Every signal; the kernel silently leaves out SIGKILL and SIGSTOP.
const ALL_SIGNALS: u64 = !0;
/// The kernel's sigset size, in bytes.
const KERNEL_SIGSET_SIZE: usize = std::mem::size_of::<u64>();

pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Reset every disposition to default (an init inherits whatever its
    /// launcher left, e.g. SIGPIPE ignored; an ignored signal would never
    /// reach the signalfd), block every signal, open the fd.
    pub fn install() -> io::Result<SignalFd> {
        match not_default() {
            // Only those that are not: the kernel lists them, and 62 system
            // calls were a third of those rinit makes before its first fork.
            Some(set) => (1..=MAX_SIGNAL)
                .filter(|&sig| set & sig_bit(sig) != 0)
                .for_each(default_disposition),
            None => reset_dispositions(),
        }
        ALL_DEFAULT.store(true, Ordering::SeqCst);
        let mask = ALL_SIGNALS;
        // nix's SigSet is the C library's, which leaves out 32-34 (above).
        // SAFETY: `mask` is a live 8-byte kernel sigset the kernel only
        // reads; no old mask is asked for (null).
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
        // SAFETY: `mask` is a live 8-byte kernel sigset the kernel only
        // reads; -1 asks for a new descriptor.
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
        // SAFETY: signalfd4 just returned this descriptor, and nothing else
        // owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(SignalFd { fd })
    }

    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Wait until a signal is pending or `timeout_ms` passes (-1: forever).
    /// EINTR cannot happen with every signal blocked, and any other error
    /// just ends this wait early.
    pub fn wait(&self, timeout_ms: i32) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let timeout = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE);
        let _ = poll(&mut [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)], timeout);
    }

    /// Every pending signal, in arrival order (the fd is non-blocking).
    pub fn drain(&self) -> Vec<i32> {
        let mut sigs = Vec::new();
        // One `struct signalfd_siginfo` per read; its first field is the
        // signal number (u32), the only one rinit needs.
        let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
        loop {
            match nix::unistd::read(self.raw(), &mut info) {
                Ok(n) if n == info.len() => {
                    let signo = info.first_chunk::<4>().map_or(0, |b| u32::from_ne_bytes(*b));
                    sigs.push(signo as i32);
                }
                Err(nix::errno::Errno::EINTR) => {}
                _ => return sigs,
            }
        }
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
    let set = sig_bit(sig);
    let mask = |how: libc::c_int| {
        // SAFETY: `set` is a live 8-byte kernel sigset the kernel only
        // reads; no old mask is asked for (null).
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
    let _ = crate::sys::kill(crate::sys::getpid(), sig, false);
    mask(libc::SIG_BLOCK);
}

/// Async-signal-safe: used in the forked child too. (nix's `sigaction`
/// takes its `Signal` enum, which has no real-time signals.)
pub fn set_disposition(sig: libc::c_int, handler: libc::sighandler_t) -> bool {
    ALL_DEFAULT.store(false, Ordering::SeqCst);
    // SAFETY: an all-zero sigaction is a valid value; `handler` is SIG_DFL
    // or SIG_IGN (no function is installed), with an empty mask and no
    // flags; the old action is not asked for (null).
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

/// SIG_DFL straight through `rt_sigaction`: the C library's `sigaction`
/// refuses 32-34, which can still arrive ignored from whoever started rinit
/// (measured: under `cargo test` 32 and 33 are SIG_IGN), and SIG_IGN
/// survives exec; for the others it costs twice the instructions of the
/// system call itself (its argument checks, SIGABRT lock and restorer). The
/// result is the same default action; the flags are left empty where the C
/// library would add SA_RESTORER, which means nothing without a handler and
/// which exec clears anyway.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn default_disposition(sig: libc::c_int) {
    let sa = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: `sa` is a live kernel sigaction with the layout above whose
    // handler is SIG_DFL (0); the old action is not asked for (null).
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

/// Where the kernel's layout is not known here: the C library's call, which
/// leaves 32-34 alone.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn default_disposition(sig: libc::c_int) {
    let _ = set_disposition(sig, libc::SIG_DFL);
}

/// A signal's bit in a kernel sigset.
fn sig_bit(sig: libc::c_int) -> u64 {
    u32::try_from(sig - 1)
        .ok()
        .and_then(|n| 1u64.checked_shl(n))
        .unwrap_or(0)
}

/// The signals this process ignores or catches (`SigIgn` and `SigCgt` of
/// /proc/self/status): every other one has its default action. `None`
/// when /proc cannot tell (not mounted): then every signal is reset.
fn not_default() -> Option<u64> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let mut f = std::fs::File::open("/proc/self/status").ok()?;
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) {
        match f.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let status = buf.get(..len)?;
    status_masks(status)
}

/// `SigIgn | SigCgt` of a /proc status text: the kernel writes the two
/// lines one after the other (fs/proc/array.c), so one scan finds both.
fn status_masks(status: &[u8]) -> Option<u64> {
    let mut line = status;
    while !line.starts_with(b"SigIgn:") {
        line = line.get(memchr::memchr(b'\n', line)? + 1..)?;
    }
    let (ign, rest) = hex_field(line, b"SigIgn:")?;
    let (cgt, _) = hex_field(rest, b"SigCgt:")?;
    Some(ign | cgt)
}

/// The hexadecimal value of a `field` line at the start of `text`, and the
/// text after that line.
fn hex_field<'a>(text: &'a [u8], field: &[u8]) -> Option<(u64, &'a [u8])> {
    let rest = text.strip_prefix(field)?;
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let hex = std::str::from_utf8(rest.get(..end)?).ok()?.trim();
    let value = u64::from_str_radix(hex, 16).ok()?;
    Some((value, rest.get(end + 1..).unwrap_or_default()))
}

/// In a forked child: every signal back to its default action unless the
/// parent's already are (async-signal-safe: an atomic load).
pub fn reset_dispositions_if_needed() {
    if !ALL_DEFAULT.load(Ordering::SeqCst) {
        reset_dispositions();
    }
}

/// Every signal back to its default action (async-signal-safe). Ignored
/// signals survive `exec` (SIGPIPE and SIGXFSZ from the Rust runtime and
/// supervisord's Python are the classic leak).
pub fn reset_dispositions() {
    for sig in 1..=MAX_SIGNAL {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        default_disposition(sig);
    }
}

/// An empty signal mask, all 64 bits (async-signal-safe): the child of a
/// process that blocks everything must not inherit that.
pub fn unblock_all() {
    let empty: u64 = 0;
    // SAFETY: `empty` is a live 8-byte kernel sigset the kernel only reads;
    // no old mask is asked for (null).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A child skips its reset only while nothing has changed a
    /// disposition since rinit's own reset.
    #[test]
    fn status_masks_are_read_from_their_lines() {
        let status = b"Name:\tx\nSigQ:\t0/1\nSigPnd:\t0000000000000000\nSigBlk:\tfffffffe7ffbfeff\nSigIgn:\t0000000000001000\nSigCgt:\t0000000180000a00\nCapInh:\t0\n";
        assert_eq!(status_masks(status), Some(0x1_8000_1a00));
        assert_eq!(status_masks(b"Name:\tx\nSigIgn:\tzz\nSigCgt:\t0\n"), None);
        assert_eq!(status_masks(b"Name:\tx\nSigIgn:\t1\nCapInh:\t0\n"), None);
        assert_eq!(status_masks(b"Name:\tx\n"), None);
        assert_eq!(sig_bit(libc::SIGPIPE), 0x1000);
        assert_eq!(sig_bit(64), 1 << 63);
        assert_eq!(sig_bit(0), 0);
    }

    /// /proc lists a signal once it is ignored, and not once it is back to
    /// its default (SIGURG: no other test touches it).
    #[test]
    fn not_default_follows_the_dispositions() {
        assert!(set_disposition(libc::SIGURG, libc::SIG_IGN));
        assert_ne!(
            not_default().expect("/proc/self/status") & sig_bit(libc::SIGURG),
            0
        );
        assert!(set_disposition(libc::SIGURG, libc::SIG_DFL));
        assert_eq!(
            not_default().expect("/proc/self/status") & sig_bit(libc::SIGURG),
            0
        );
    }

    #[test]
    fn a_changed_disposition_makes_children_reset_theirs_again() {
        ALL_DEFAULT.store(true, Ordering::SeqCst);
        assert!(set_disposition(libc::SIGWINCH, libc::SIG_DFL));
        assert!(!ALL_DEFAULT.load(Ordering::SeqCst));
    }
}

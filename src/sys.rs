//! Thin, checked wrappers over the few system calls the event loop makes.
//!
//! `nix`'s checked wrappers are used where they keep everything rinit needs;
//! raw `libc` where `nix`'s types would lose information rinit must keep:
//! `waitpid` statuses with real-time signals (nix turns them into an error
//! after the child is already reaped), `kill` with any signal number a config
//! or a forwarded signal may name, and `setgroups` on a plain `gid_t` slice.

use std::io;

/// How a process ended, as `waitpid` told the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal { sig: i32, core: bool },
}

impl Exit {
    /// supervisord's `{status}` text in `exited:` and `stopped:` lines.
    pub fn describe(self) -> String {
        self.describe_into(crate::log::Line::new()).done()
    }

    /// [`Exit::describe`] appended to a line being built.
    pub fn describe_into(self, line: crate::log::Line) -> crate::log::Line {
        match self {
            Exit::Code(c) => line.s("exit status ").n(c),
            Exit::Signal { sig, core: false } => line.s("terminated by ").sig(sig),
            Exit::Signal { sig, core: true } => line.s("terminated by ").sig(sig).s(" (core dumped)"),
        }
    }

    /// The code compared with `exitcodes`: -1 for a signal death, so a
    /// signal death is never expected.
    pub fn code_for_expectation(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal { .. } => -1,
        }
    }

    /// The shell convention used for rinit's own exit status.
    pub fn as_status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal { sig, .. } => 128 + sig,
        }
    }
}

/// One reaped child.
pub struct Reaped {
    pub pid: i32,
    pub exit: Exit,
}

/// `waitpid(-1, WNOHANG)`: `Ok(None)` when no child is ready, `Err` with
/// ECHILD when rinit has no child at all.
pub fn reap_one() -> io::Result<Option<Reaped>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a live local the kernel writes one int into.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            // Without WUNTRACED only exits and signal deaths are reported.
            let exit = decode_status(status).unwrap_or(Exit::Code(status));
            return Ok(Some(Reaped { pid, exit }));
        }
        if pid == 0 {
            return Ok(None);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn decode_status(status: libc::c_int) -> Option<Exit> {
    if libc::WIFEXITED(status) {
        Some(Exit::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(Exit::Signal {
            sig: libc::WTERMSIG(status),
            core: libc::WCOREDUMP(status),
        })
    } else {
        None
    }
}

/// `kill(pid, sig)`, or `kill(-pid, sig)` for the whole process group.
pub fn kill(pid: i32, sig: i32, group: bool) -> io::Result<()> {
    if pid <= 0 {
        // Never let a bookkeeping bug turn into kill(-1) or kill(0).
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let target = if group { -pid } else { pid };
    // SAFETY: kill passes no memory; `target` is neither 0 nor -1 (checked
    // above), so only the intended process or group can be signalled.
    if unsafe { libc::kill(target, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether any process is left in process group `pgid`.
pub fn group_exists(pgid: i32) -> bool {
    match kill(pgid, 0, true) {
        Ok(()) => true,
        Err(e) => e.raw_os_error() == Some(libc::EPERM),
    }
}

/// Live (non-zombie) processes whose process group is `pgid`, from /proc.
pub fn group_members(pgid: i32) -> usize {
    scan_proc()
        .iter()
        .filter(|p| p.pgrp == pgid && p.state != 'Z')
        .count()
}

/// What rinit needs to know of a process from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

/// Every process visible in /proc (unreadable entries are skipped: they
/// may have exited between readdir and open).
pub fn scan_proc() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter_map(read_stat)
        .collect()
}

fn read_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// `/proc/PID/stat`: the command name is in parentheses and may contain
/// spaces or parentheses itself, so fields are counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let pid = text.split(' ').next()?.parse().ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        state,
        ppid,
        pgrp,
    })
}

/// Every live process below `root` in the process tree (orphans of rinit's
/// programs are re-parented to rinit, so they are found too). Zombies are
/// left out: they are already dead and only wait to be reaped.
pub fn descendants(root: i32) -> Vec<i32> {
    let all: Vec<ProcStat> = scan_proc().into_iter().filter(|p| p.state != 'Z').collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for p in &all {
            if p.ppid == parent && !found.contains(&p.pid) {
                found.push(p.pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

pub fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// Give the CPU to another runnable task on it, if there is one.
pub fn yield_cpu() {
    // SAFETY: no arguments; it cannot fail on Linux.
    unsafe { libc::sched_yield() };
}

/// Opens /dev/null on whichever of fds 0-2 is closed, so that no file
/// rinit opens later takes the place of stdin, stdout or stderr (std's
/// start-up did this; rinit's `main` skips it).
pub fn ensure_std_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is three valid pollfd entries; a zero timeout.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0;
    for p in fds {
        let closed = if polled {
            p.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let flags = unsafe { libc::fcntl(p.fd, libc::F_GETFD) };
            flags == -1
        };
        if closed {
            // The lowest free number is this one. No CLOEXEC: it stands in
            // for a standard stream, which children inherit too.
            // SAFETY: a NUL-terminated path.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// The arguments libc passes to `main`, as strings (invalid UTF-8
/// replaced, as the command line always was).
///
/// # Safety
/// `argv` holds `argc` pointers to NUL-terminated strings that live as
/// long as the process.
pub unsafe fn c_args(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let n = usize::try_from(argc).unwrap_or(0);
    (0..n)
        .map(|i| {
            // SAFETY: i < argc, so `argv[i]` is one of the caller's strings.
            let s = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(s.to_bytes())
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Become the reaper of orphaned descendants when not PID 1.
pub fn set_child_subreaper() -> io::Result<()> {
    Ok(nix::sys::prctl::set_child_subreaper(true)?)
}

/// The step of a privilege drop that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStep {
    Groups,
    Gid,
    Uid,
}

impl IdStep {
    /// supervisord's reason for the failed step, the same for rinit's own
    /// `user=` and a program's.
    pub const fn reason(self) -> &'static str {
        match self {
            IdStep::Groups => "Could not set groups of effective user",
            IdStep::Gid => "Could not set group id of effective user",
            IdStep::Uid => "Could not set user id of effective user",
        }
    }
}

/// supervisord's reason when a non-root rinit is asked to become another user.
pub const NONROOT_REASON: &str = "Can't drop privilege as nonroot user";

/// `setgroups`, `setgid`, `setuid`, in that order (the groups and the gid
/// can only be changed while still root), all three; the first failure
/// stops and is returned with its errno. Async-signal-safe (no allocation,
/// no lock): the forked child calls it too.
pub fn set_ids(groups: &[libc::gid_t], gid: u32, uid: u32) -> Result<(), (IdStep, nix::errno::Errno)> {
    use nix::unistd::{setgid, setuid, Gid, Uid};
    // SAFETY: the pointer and length describe `groups`, a live slice of
    // gid_t that the kernel only reads. (nix's setgroups takes `&[Gid]` and
    // relies on Gid having gid_t's layout, which Gid does not promise.)
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        return Err((IdStep::Groups, nix::errno::Errno::last()));
    }
    setgid(Gid::from_raw(gid)).map_err(|e| (IdStep::Gid, e))?;
    setuid(Uid::from_raw(uid)).map_err(|e| (IdStep::Uid, e))
}

/// The signal that stopped child `pid` (job control), if a stop happened
/// that was not reported yet. Exits are left to [`reap_one`]: `waitid` with
/// only WSTOPPED never reaps.
pub fn take_stop(pid: i32) -> Option<i32> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
    if pid <= 0 {
        return None;
    }
    // Only the four job-control signals stop a process, and nix names them
    // all, so its decoding loses nothing here.
    let flags = WaitPidFlag::WSTOPPED | WaitPidFlag::WNOHANG;
    match waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::Stopped(p, sig)) if p.as_raw() == pid => Some(sig as i32),
        _ => None,
    }
}

/// Make process group `pgid` the foreground group of terminal `tty`.
/// Async-signal-safe: the forked child calls it too. (nix's `tcsetpgrp`
/// wants a borrowed fd, which a bare number cannot give it safely.)
pub fn set_foreground(tty: i32, pgid: i32) -> io::Result<()> {
    // SAFETY: tcsetpgrp passes no memory; a `tty` that is not an open
    // terminal is only an error (EBADF, ENOTTY), reported to the caller.
    if unsafe { libc::tcsetpgrp(tty, pgid) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `clock_gettime(clock)` as whole seconds and nanoseconds past them;
/// `None` if the clock could not be read (Linux never fails these) or says
/// something out of range (before the epoch).
fn clock(clock: libc::clockid_t) -> Option<(i64, u32)> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live local the call writes one timespec into.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    // time_t is i64 on the targets rinit builds for.
    #[allow(clippy::useless_conversion)]
    match (i64::from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
        (secs, Ok(nanos)) if secs >= 0 && nanos < 1_000_000_000 => Some((secs, nanos)),
        _ => None,
    }
}

/// The monotonic clock in milliseconds (`CLOCK_MONOTONIC`, what every
/// deadline is measured on; 0 if it could not be read, which Linux never
/// does). `Instant::elapsed` and `as_millis` cost twice as much, on a call
/// the loop makes several times a pass.
pub fn monotonic_millis() -> u64 {
    clock(libc::CLOCK_MONOTONIC).map_or(0, |(secs, nanos)| {
        u64::try_from(secs)
            .unwrap_or(0)
            .saturating_mul(1000)
            .saturating_add(u64::from(nanos / 1_000_000))
    })
}

/// The wall clock: seconds since the epoch and the nanoseconds past them.
/// (0, 0) before the epoch, as `SystemTime::duration_since` would say; read
/// with `clock_gettime` itself, which is all `SystemTime::now` does before
/// checking and subtracting what the kernel already guarantees.
pub fn now_realtime() -> (i64, u32) {
    clock(libc::CLOCK_REALTIME).unwrap_or((0, 0))
}

/// Broken-down local time of `t` (seconds since the epoch), with TZ and
/// /etc/localtime honoured by the C library; None when it cannot say (a
/// year out of range). nix has no wrapper for `localtime_r`.
pub fn local_time(t: i64) -> Option<libc::tm> {
    // SAFETY: libc::tm is integers and one pointer (tm_zone), for all of
    // which all-zero bytes are a valid value (0 and null).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // libc marks musl's time_t deprecated (it became 64-bit in musl 1.2);
    // on the 64-bit targets rinit builds for it is i64 either way.
    #[allow(deprecated)]
    let tt = t as libc::time_t;
    // SAFETY: both pointers refer to live locals for the whole call, and
    // localtime_r writes only into `tm` (no shared static buffer).
    let r = unsafe { libc::localtime_r(&tt, &mut tm) };
    (!r.is_null()).then_some(tm)
}

/// `%b` of the C locale for `tm` ("Jan" … "Dec"), the month both syslog's
/// time stamp and supervisorctl's `Sep 01 09:15 AM` columns print.
pub fn month_abbr(tm: &libc::tm) -> &'static str {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    usize::try_from(tm.tm_mon)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("???")
}

/// Symbolic errno for messages (`ESRCH`, `EPERM` …), from spawn's table.
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::errno::errno_text(n),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        let s = parse_stat("42 (a) b (c) S 7 42 42 0 -1 4194560 0").unwrap();
        assert_eq!((s.pid, s.state, s.ppid, s.pgrp), (42, 'S', 7, 42));
    }

    #[test]
    fn now_realtime_is_the_system_time() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let (secs, nanos) = now_realtime();
        let after = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let now = std::time::Duration::new(secs as u64, nanos);
        assert!(before <= now && now <= after, "{before:?} {now:?} {after:?}");
    }

    #[test]
    fn kill_refuses_non_positive_pids() {
        assert!(kill(0, 0, true).is_err());
        assert!(kill(-1, 0, false).is_err());
    }

    #[test]
    fn decode_exit_and_signal() {
        assert_eq!(decode_status(3 << 8), Some(Exit::Code(3)));
        assert_eq!(decode_status(9), Some(Exit::Signal { sig: 9, core: false }));
        assert_eq!(
            decode_status(11 | 0x80),
            Some(Exit::Signal { sig: 11, core: true })
        );
    }
}

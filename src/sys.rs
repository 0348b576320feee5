//! Thin, checked wrappers over the few system calls the event loop makes.
//!
//! Raw `libc` is used where `nix`'s types would lose information rinit must
//! keep: `waitpid` statuses with real-time signals and `kill` with any
//! signal number a config may name.

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
        match self {
            Exit::Code(c) => format!("exit status {c}"),
            Exit::Signal { sig, core: false } => {
                format!("terminated by {}", crate::signame::signal_name(sig))
            }
            Exit::Signal { sig, core: true } => {
                format!("terminated by {} (core dumped)", crate::signame::signal_name(sig))
            }
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
        // SAFETY: status is a valid out-pointer.
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
    // SAFETY: plain system call with integer arguments.
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
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Become the reaper of orphaned descendants when not PID 1.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The signal that stopped child `pid` (job control), if a stop happened
/// that was not reported yet. Exits are left to [`reap_one`]: `waitid` with
/// only WSTOPPED never reaps.
pub fn take_stop(pid: i32) -> Option<i32> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: an all-zero siginfo_t is valid to overwrite.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with a valid out-pointer and a positive pid.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WSTOPPED | libc::WNOHANG,
        )
    };
    // SAFETY: si_pid and si_status are set for a CLD_STOPPED report.
    if r == 0 && info.si_code == libc::CLD_STOPPED && unsafe { info.si_pid() } == pid {
        // SAFETY: as above, si_status is set for a CLD_STOPPED report.
        Some(unsafe { info.si_status() })
    } else {
        None
    }
}

/// Make process group `pgid` the foreground group of terminal `tty`.
pub fn set_foreground(tty: i32, pgid: i32) -> io::Result<()> {
    // SAFETY: plain system call with integer arguments.
    if unsafe { libc::tcsetpgrp(tty, pgid) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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

//! The forked child. Only async-signal-safe calls from here on: no
//! allocation, no lock, no formatting: everything it needs was prepared in
//! the `ChildPlan` before the fork (docs/design.md, "Spawning").

use super::{ChildPlan, ExecPlan, UserPlan, Voice};
use crate::errno::{errno_name, exec_strerror};
use crate::{signals, sys};
use std::ffi::CString;
use std::os::fd::RawFd;

// ---------------------------------------------------------------------------
// The child. Only async-signal-safe calls from here on: no allocation, no
// formatting, no locks, no panics.
// ---------------------------------------------------------------------------

pub(super) fn last_errno() -> i32 {
    nix::errno::Errno::last_raw()
}

/// `write(2)` all of `buf` to fd 2, retrying on EINTR; a failure has nowhere
/// to be reported, so it just stops.
pub(super) fn write_stderr(mut buf: &[u8]) {
    while !buf.is_empty() {
        // nix's `write` wants a borrowed fd, and the safe way to borrow fd 2
        // is std's `Stderr` handle, which is not documented to be
        // async-signal-safe; so the raw call stays.
        // SAFETY: `buf` is a live slice of `buf.len()` bytes the kernel only
        // reads; fd 2 not being open is only an error (EBADF).
        let n = unsafe { libc::write(libc::STDERR_FILENO, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if last_errno() == libc::EINTR {
                continue;
            }
            return;
        }
        buf = buf.get(n as usize..).unwrap_or(&[]);
    }
}

/// Write one line made of `parts` with a single `write` when it fits a stack
/// buffer, so that it lands in an O_APPEND log file in one piece.
pub(super) fn write_line(parts: &[&[u8]]) {
    let mut buf = [0u8; 1024];
    let mut len = 0usize;
    for part in parts {
        let Some(dst) = buf.get_mut(len..len + part.len()) else {
            for p in parts {
                write_stderr(p);
            }
            return;
        };
        dst.copy_from_slice(part);
        len += part.len();
    }
    write_stderr(buf.get(..len).unwrap_or(&[]));
}

/// Decimal digits of `n` into `buf`, for errnos without a name.
pub(super) fn format_decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

/// Report a pre-exec failure the way the plan's voice does and exit.
/// supervisord's child always ends with `child process was not spawned`
/// and status 127; single-program mode uses `code`.
pub(super) fn child_fail(plan: &ChildPlan, parts: &[&[u8]], code: i32) -> ! {
    match plan.voice {
        Voice::Supervisor => {
            // Both lines in one write: between two, rinit's own `spawned:`
            // line could land (the child now reaches exec, and fails, within
            // microseconds of the fork).
            const TAIL: &[u8] = b"supervisor: child process was not spawned\n";
            let mut all: [&[u8]; 8] = [&[]; 8];
            match all.get_mut(..parts.len()) {
                Some(head) if parts.len() < 8 => {
                    head.copy_from_slice(parts);
                    if let Some(last) = all.get_mut(parts.len()) {
                        *last = TAIL;
                    }
                    write_line(all.get(..=parts.len()).unwrap_or(&[TAIL]));
                }
                _ => {
                    write_line(parts);
                    write_line(&[TAIL]);
                }
            }
            // SAFETY: _exit ends the process at once, without the atexit
            // handlers and stdio buffers that belong to the parent; nothing
            // after the fork relies on them.
            unsafe { libc::_exit(127) }
        }
        Voice::Rinit => {
            if !parts.is_empty() {
                write_line(parts);
            }
            // SAFETY: as above, _exit skips only what belongs to the parent.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Report `what` failing with the current errno (by symbolic name).
pub(super) fn child_fail_errno(plan: &ChildPlan, what: &[u8], arg: &[u8]) -> ! {
    let e = last_errno();
    let mut digits = [0u8; 10];
    let name: &[u8] = match errno_name(e) {
        Some(n) => n.as_bytes(),
        None => format_decimal(e.unsigned_abs(), &mut digits),
    };
    let prefix: &[u8] = match plan.voice {
        Voice::Supervisor => b"supervisor: ",
        Voice::Rinit => b"rinit: ",
    };
    child_fail(plan, &[prefix, what, arg, b": ", name, b"\n"], 126)
}

/// Make the child's (new) group the terminal's foreground group, like a job
/// control shell. `tcsetpgrp` from a background group raises SIGTTOU, hence
/// the temporary SIG_IGN. A failure (no tty after all, or it belongs to
/// another session) leaves the child in the background, which is what a
/// plain `docker run` without `-t` means anyway.
pub(super) fn make_foreground(tty: RawFd) {
    let _ = signals::set_disposition(libc::SIGTTOU, libc::SIG_IGN);
    let _ = sys::set_foreground(tty, sys::getpid());
    let _ = signals::set_disposition(libc::SIGTTOU, libc::SIG_DFL);
}

/// Install the plan's fds as 0, 1, 2. When no source is an fd 0-2 that an
/// earlier `dup2` would overwrite (the usual case: sources above 2, or
/// rinit's own stdout and stderr passed through), each goes straight to its
/// place: one system call per fd, where the general way below takes three
/// (musl's `F_DUPFD_CLOEXEC` adds an `F_SETFD`), and the child runs this
/// before its `exec`, on the way to the first program.
pub(super) fn install_stdio(plan: &ChildPlan) -> Result<(), ()> {
    let [_, out, err] = plan.stdio;
    if out == 0 || err == 0 || err == 1 {
        return install_stdio_via_high_fds(plan);
    }
    for (target, &src) in plan.stdio.iter().enumerate() {
        let target = target as RawFd;
        let placed = if src == target {
            // Already in place; it must not be close-on-exec (a /dev/null
            // opened CLOEXEC that landed on a free fd 0).
            nix::fcntl::fcntl(src, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).map(drop)
        } else {
            // dup2 clears FD_CLOEXEC on the target.
            nix::unistd::dup2(src, target).map(drop)
        };
        match placed {
            Ok(()) => {}
            // rinit's own fd 1 or 2 is closed: give the child /dev/null.
            Err(nix::errno::Errno::EBADF) => {
                nix::unistd::dup2(plan.devnull, target).map_err(drop)?;
            }
            Err(_) => return Err(()),
        }
    }
    Ok(())
}

/// [`install_stdio`] when sources are themselves 0-2 in an order that
/// direct `dup2`s would clobber (swapped `/dev/stdout` and `/dev/stderr`):
/// every source is first copied above 2.
fn install_stdio_via_high_fds(plan: &ChildPlan) -> Result<(), ()> {
    use nix::errno::Errno;
    use nix::fcntl::{fcntl, FcntlArg::F_DUPFD_CLOEXEC};
    let mut high = [-1 as RawFd; 3];
    for (slot, &src) in high.iter_mut().zip(plan.stdio.iter()) {
        let fd = match fcntl(src, F_DUPFD_CLOEXEC(3)) {
            // rinit's own fd 1 or 2 is closed: give the child /dev/null.
            Err(Errno::EBADF) => fcntl(plan.devnull, F_DUPFD_CLOEXEC(3)),
            r => r,
        };
        *slot = fd.map_err(drop)?;
    }
    for (target, &src) in high.iter().enumerate() {
        // dup2 clears FD_CLOEXEC on the target.
        nix::unistd::dup2(src, target as RawFd).map_err(drop)?;
    }
    Ok(())
}

/// Close every fd above 2: nothing of rinit's (or of whoever started rinit)
/// may reach the program (docs/design.md). `close_range` where the kernel has
/// it (5.9+), else a walk of /proc/self/fd with raw `getdents64`, else a
/// loop up to the fd limit.
pub(super) fn close_inherited_fds(fd_limit: libc::c_int) {
    const SYS_CLOSE_RANGE: libc::c_long = 436;
    // SAFETY: close_range takes only integers; closing every fd above 2 is
    // the point, and nothing in the child uses one after this (the plan's
    // fds were moved to 0-2 by `install_stdio`).
    if unsafe {
        libc::syscall(
            SYS_CLOSE_RANGE,
            3 as libc::c_uint,
            !0 as libc::c_uint,
            0 as libc::c_uint,
        )
    } == 0
    {
        return;
    }
    if close_via_proc() {
        return;
    }
    for fd in 3..fd_limit {
        let _ = nix::unistd::close(fd);
    }
}

/// The /proc/self/fd walk, with no allocation (a stack buffer for
/// `getdents64`). Returns false if /proc is not available.
pub(super) fn close_via_proc() -> bool {
    use nix::fcntl::OFlag;
    // A `CStr` path: nix passes it straight through, with no copy.
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(dir) = nix::fcntl::open(c"/proc/self/fd", flags, nix::sys::stat::Mode::empty()) else {
        return false;
    };
    let mut buf = [0u8; 4096];
    loop {
        // nix has no getdents64.
        // SAFETY: `buf` is a live local the kernel writes at most
        // `buf.len()` bytes into; `dir` is the directory opened above.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            let reclen = match buf
                .get(off + 16..off + 18)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
            {
                Some(b) => u16::from_ne_bytes(b) as usize,
                None => break,
            };
            if reclen == 0 {
                break;
            }
            let name = buf.get(off + 19..off + reclen).unwrap_or(&[]);
            if let Some(fd) = parse_fd_name(name) {
                if fd > 2 && fd != dir {
                    let _ = nix::unistd::close(fd);
                }
            }
            off += reclen;
        }
    }
    let _ = nix::unistd::close(dir);
    true
}

/// A /proc/self/fd entry name (NUL-terminated digits) as an fd number.
pub(super) fn parse_fd_name(name: &[u8]) -> Option<RawFd> {
    let mut v: RawFd = 0;
    let mut any = false;
    for &b in name {
        if b == 0 {
            break;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as RawFd)?;
        any = true;
    }
    any.then_some(v)
}

/// The plan's user: `sys::set_ids` (the order and supervisord's reasons,
/// shared with rinit's own `user=`), reported without the errno, as
/// supervisord's child does.
pub(super) fn drop_privileges(plan: &ChildPlan) {
    match &plan.user {
        UserPlan::Keep => {}
        UserPlan::Fail { line } => child_fail(plan, &[line], 127),
        UserPlan::Drop {
            groups,
            gid,
            uid,
            label,
        } => {
            if let Err((step, _)) = sys::set_ids(groups, *gid, *uid) {
                child_fail(
                    plan,
                    &[
                        b"supervisor: couldn't setuid to ",
                        label,
                        b": ",
                        step.reason().as_bytes(),
                        b"\n",
                    ],
                    127,
                );
            }
        }
    }
}

/// The child's whole life before exec, in tini's order of care: signals
/// first, then process group and terminal, stdio, fds, identity, directory,
/// umask, and the mask last.
pub(super) fn run_child(plan: &ChildPlan) -> ! {
    signals::reset_dispositions_if_needed();
    let own = nix::unistd::Pid::from_raw(0);
    if nix::unistd::setpgid(own, own).is_err() {
        child_fail_errno(plan, b"couldn't setpgid", b"");
    }
    if let Some(tty) = plan.foreground_tty {
        make_foreground(tty);
    }
    if install_stdio(plan).is_err() {
        child_fail_errno(plan, b"couldn't set up stdin/stdout/stderr", b"");
    }
    close_inherited_fds(plan.fd_limit);
    drop_privileges(plan);
    if let Some(dir) = &plan.directory {
        // A `CStr` path: nix passes it straight through, with no copy.
        if nix::unistd::chdir(dir.as_c_str()).is_err() {
            child_fail_errno(plan, b"couldn't chdir to ", dir.as_bytes());
        }
    }
    if let Some(mask) = plan.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    signals::unblock_all();
    exec(plan)
}

/// `execve`; only returns on failure, which is then reported.
pub(super) fn exec(plan: &ChildPlan) -> ! {
    match &plan.exec {
        ExecPlan::Program { file, argv0 } => {
            // nix's execve builds its pointer arrays on the heap, which the
            // child must not touch; `plan` holds them ready.
            // SAFETY: `file` is a C string, and argv and envp are
            // NULL-terminated arrays of pointers to C strings, all owned by
            // `plan`, which outlives the call.
            unsafe { libc::execve(file.as_ptr(), plan.argv.ptrs.as_ptr(), plan.envp.as_ptr()) };
            child_fail_errno(plan, b"couldn't exec ", argv0)
        }
        ExecPlan::Search { candidates, argv0 } => {
            let e = exec_search(plan, candidates);
            let mut digits = [0u8; 10];
            let text: &[u8] = match exec_strerror(e) {
                Some(t) => t.as_bytes(),
                None => format_decimal(e.unsigned_abs(), &mut digits),
            };
            let code = if e == libc::ENOENT { 127 } else { 126 };
            child_fail(plan, &[b"rinit: ", argv0, b": ", text, b"\n"], code)
        }
    }
}

/// glibc `execvp`'s loop: try each candidate; "not there" errors move on,
/// EACCES is remembered and also moves on, anything else stops. Returns the
/// errno to report.
pub(super) fn exec_search(plan: &ChildPlan, candidates: &[CString]) -> i32 {
    let mut last = libc::ENOENT;
    let mut saw_eacces = false;
    for c in candidates {
        // SAFETY: as in `exec`: `c`, argv and envp are C strings and
        // NULL-terminated pointer arrays owned by `plan`.
        unsafe { libc::execve(c.as_ptr(), plan.argv.ptrs.as_ptr(), plan.envp.as_ptr()) };
        last = last_errno();
        match last {
            libc::EACCES => saw_eacces = true,
            libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => break,
        }
    }
    if saw_eacces
        && matches!(
            last,
            libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT | libc::EACCES
        )
    {
        libc::EACCES
    } else {
        last
    }
}

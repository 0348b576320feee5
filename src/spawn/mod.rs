//! Starting a program: command splitting and lookup (docs/design.md), the
//! child's set-up (own process group, stdio, user, directory, umask,
//! environment) and child hygiene (empty signal mask, default dispositions,
//! only fds 0-2 at exec). Everything the child needs is prepared before
//! `fork`, so the child only makes async-signal-safe system calls.
//!
//! The split between parent and child is deliberate: the parent may hold
//! locks (allocator, stdio) at the moment of `fork`, and rinit's test harness
//! is multi-threaded, so the child must not allocate, format or lock. It
//! reads a [`ChildPlan`] built in the parent and talks to the kernel through
//! `libc` directly.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::raw::c_char;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::config::{LogDest, ProcessConfig};
use crate::environ::{Environ, Envp};
use crate::pyrepr::repr as py_repr;
use crate::users::UserDb;

/// Why a spawn failed before or at fork; `Display` is supervisord's
/// `spawnerr:` reason text, verbatim (docs/state-machine.md). supervisord formats
/// every name with `%r`, hence the Python repr quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// `can't find command '{word}'`
    NotFound(String),
    /// `command at '{file}' is a directory`
    IsDirectory(String),
    /// `command at '{file}' is not executable`
    NotExecutable(String),
    /// `no permission to run command '{file}'`
    NoPermission(String),
    /// `can't parse command {repr}: {error}`
    Parse { command: String, error: String },
    /// `command is empty`
    Empty,
    /// `too many open files to spawn '{name}'`
    TooManyFiles(String),
    /// `unknown error making dispatchers for '{name}': {ERRNO}`
    Dispatchers { name: String, errno: String },
    /// `Too many processes in process table to spawn '{name}'`
    TooManyProcesses(String),
    /// `unknown error during fork for '{name}': {ERRNO}`
    Fork { name: String, errno: String },
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::NotFound(w) => write!(f, "can't find command {}", py_repr(w)),
            SpawnError::IsDirectory(p) => write!(f, "command at {} is a directory", py_repr(p)),
            SpawnError::NotExecutable(p) => {
                write!(f, "command at {} is not executable", py_repr(p))
            }
            SpawnError::NoPermission(p) => {
                write!(f, "no permission to run command {}", py_repr(p))
            }
            SpawnError::Parse { command, error } => {
                write!(f, "can't parse command {}: {}", py_repr(command), error)
            }
            SpawnError::Empty => f.write_str("command is empty"),
            SpawnError::TooManyFiles(n) => write!(f, "too many open files to spawn {}", py_repr(n)),
            SpawnError::Dispatchers { name, errno } => {
                write!(
                    f,
                    "unknown error making dispatchers for {}: {}",
                    py_repr(name),
                    errno
                )
            }
            SpawnError::TooManyProcesses(n) => {
                write!(f, "Too many processes in process table to spawn {}", py_repr(n))
            }
            SpawnError::Fork { name, errno } => {
                write!(f, "unknown error during fork for {}: {}", py_repr(name), errno)
            }
        }
    }
}

impl std::error::Error for SpawnError {}

mod child;
mod command;

use crate::errno::exec_strerror;
pub use crate::errno::{errno_name, errno_text};
use child::{last_errno, run_child, write_line};
pub use command::{child_environment, resolve_command, split_command, ResolvedCommand, SplitError};

// ---------------------------------------------------------------------------
// The plan the child executes.
// ---------------------------------------------------------------------------

/// NUL-terminated strings plus the NULL-terminated pointer array `execve`
/// wants. The pointers point into `strings`' heap buffers, which do not move
/// when the struct does.
struct CArray {
    _strings: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl CArray {
    fn new(strings: Vec<CString>) -> CArray {
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CArray {
            _strings: strings,
            ptrs,
        }
    }
}

/// The user switch, decided in the parent.
enum UserPlan {
    /// No `user=`, or rinit already runs as that (non-root) user, which is
    /// supervisord's "nothing to do".
    Keep,
    /// supplementary groups, then gid, then uid: all three, always.
    Drop {
        groups: Vec<libc::gid_t>,
        gid: libc::gid_t,
        uid: libc::uid_t,
        label: Vec<u8>,
    },
    /// The user cannot be switched to; the child prints this complete line
    /// and exits 127, like any other pre-exec failure supervisord reports.
    Fail { line: Vec<u8> },
}

/// What the child finally execs.
enum ExecPlan {
    /// A program: one resolved file, supervisord's message on failure.
    Program { file: CString, argv0: Vec<u8> },
    /// Single-program mode: `execvp`'s PATH search over these candidates.
    Search {
        candidates: Vec<CString>,
        argv0: Vec<u8>,
    },
}

/// How a failure before exec is reported: supervisord's wording for
/// programs, rinit's own for single-program mode.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Voice {
    Supervisor,
    Rinit,
}

/// Everything the child needs, prepared before `fork`.
struct ChildPlan<'a> {
    voice: Voice,
    exec: ExecPlan,
    argv: CArray,
    envp: Envp<'a>,
    /// The fds that become the child's 0, 1, 2.
    stdio: [RawFd; 3],
    /// Used instead of a `stdio` source that turns out to be closed.
    devnull: RawFd,
    /// Keeps the opened files alive until the parent drops the plan.
    _owned: Vec<OwnedFd>,
    foreground_tty: Option<RawFd>,
    user: UserPlan,
    directory: Option<CString>,
    umask: Option<libc::mode_t>,
    /// Upper bound for the last-resort close loop.
    fd_limit: libc::c_int,
}

/// Open a file for the child; everything rinit opens is close-on-exec so it
/// can never leak into another child.
fn open_for_child(path: &Path, read: bool) -> std::io::Result<OwnedFd> {
    let mut o = OpenOptions::new();
    if read {
        o.read(true).write(true);
    } else {
        o.append(true).create(true).mode(0o644);
    }
    o.custom_flags(libc::O_CLOEXEC).open(path).map(OwnedFd::from)
}

/// A program's log file handed to the child as is (pass-through): created
/// 0644, no planted symlink followed (docs/output.md). Opened `O_NONBLOCK`
/// so that a FIFO without a reader fails (ENXIO) instead of blocking PID 1,
/// then made blocking again: the child must never see EAGAIN.
fn open_log_for_child(path: &Path) -> std::io::Result<OwnedFd> {
    use crate::output::open::{open_for_write, How};
    let fd = OwnedFd::from(open_for_write(path, How::Append, true)?);
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(fl) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_retain(fl) - OFlag::O_NONBLOCK),
        );
    }
    Ok(fd)
}

/// supervisord's classification of an open error while "making dispatchers".
pub fn open_error(name: &str, e: &std::io::Error) -> SpawnError {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => SpawnError::TooManyFiles(name.to_string()),
        Some(n) => SpawnError::Dispatchers {
            name: name.to_string(),
            errno: errno_text(n),
        },
        // rinit's own refusal of a planted symlink: what the kernel's
        // `fs.protected_symlinks` would have answered.
        None => SpawnError::Dispatchers {
            name: name.to_string(),
            errno: crate::output::open::errno_word(e),
        },
    }
}

/// The soft RLIMIT_NOFILE, capped so the last-resort close loop stays short.
fn fd_close_limit() -> libc::c_int {
    use nix::sys::resource::{getrlimit, Resource};
    const CAP: libc::rlim_t = 1 << 20;
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((cur, _)) if cur != libc::RLIM_INFINITY && cur <= CAP => cur as libc::c_int,
        _ => CAP as libc::c_int,
    }
}

fn cstring(s: &str) -> Option<CString> {
    CString::new(s).ok()
}

/// Resolve `user=` in the parent. A user that no longer exists (the config
/// was checked earlier, the passwd file changed since) is not a spawn error
/// supervisord knows; rinit reports it the way supervisord's child does when
/// its `drop_privileges` fails: a `couldn't setuid` line and exit 127.
fn plan_user(spec: Option<&str>, db: &UserDb) -> UserPlan {
    let Some(spec) = spec else {
        return UserPlan::Keep;
    };
    let user = match db.resolve(spec) {
        Ok(u) => u,
        Err(e) => {
            let line = format!("supervisor: couldn't setuid to {spec}: {}\n", e.spawn_reason());
            return UserPlan::Fail {
                line: line.into_bytes(),
            };
        }
    };
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 {
        if euid == user.uid {
            return UserPlan::Keep;
        }
        let line = format!(
            "supervisor: couldn't setuid to {}: {}\n",
            user.uid,
            crate::sys::NONROOT_REASON
        );
        return UserPlan::Fail {
            line: line.into_bytes(),
        };
    }
    UserPlan::Drop {
        groups: user.groups.clone(),
        gid: user.gid,
        uid: user.uid,
        label: user.uid.to_string().into_bytes(),
    }
}

/// A log file the child could not be given: that stream is rinit's own
/// descriptor instead, as if the key were unset, and the program runs
/// (docs/output.md, "When a log file cannot be opened").
#[derive(Debug)]
pub struct LogFallback {
    /// rinit's fd (1 or 2) the child got in place of the file.
    pub fd: RawFd,
    pub error: std::io::Error,
}

/// The fd a log destination means for the child, opening files as needed.
fn stdio_source(
    dest: &LogDest,
    rinit_fd: RawFd,
    devnull: RawFd,
    owned: &mut Vec<OwnedFd>,
    fallbacks: &mut Vec<LogFallback>,
) -> RawFd {
    match dest {
        LogDest::Inherit => rinit_fd,
        LogDest::RinitStdout => libc::STDOUT_FILENO,
        LogDest::RinitStderr => libc::STDERR_FILENO,
        LogDest::Null => devnull,
        LogDest::File(path) => match open_log_for_child(path) {
            Ok(fd) => {
                let raw = fd.as_raw_fd();
                owned.push(fd);
                raw
            }
            Err(error) => {
                fallbacks.push(LogFallback { fd: rinit_fd, error });
                rinit_fd
            }
        },
    }
}

/// A pipe for a captured stream (docs/output.md, "Capture"): the child gets
/// the blocking write end, rinit keeps the read end, non-blocking, for its
/// poll loop. Both are close-on-exec (the child's copy is its dup2'd fd).
fn capture_pipe(
    owned: &mut Vec<OwnedFd>,
    read_end: &mut Option<OwnedFd>,
    name: &str,
) -> Result<RawFd, SpawnError> {
    let (r, w) = cloexec_pipe(name)?;
    set_nonblocking(&r);
    // A larger pipe means fewer wake-ups per megabyte for a chatty program
    // (kernel memory, not rinit's; refused above pipe-max-size: ignored).
    let _ = nix::fcntl::fcntl(r.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    let raw = w.as_raw_fd();
    owned.push(w);
    *read_end = Some(r);
    Ok(raw)
}

/// Build the whole child plan for a program; every fallible step happens here.
fn plan_program<'a>(
    p: &'a ProcessConfig,
    base_env: &'a Environ,
    db: &UserDb,
    capture: [bool; 2],
    pipes: &mut [Option<OwnedFd>; 2],
    fallbacks: &mut Vec<LogFallback>,
) -> Result<ChildPlan<'a>, SpawnError> {
    let cmd = resolve_command(&p.command, p.directory.as_deref(), &p.environment, base_env)?;
    let nul_error = || SpawnError::Parse {
        command: p.command.clone(),
        error: "embedded null byte".into(),
    };
    let argv: Vec<CString> = cmd
        .argv
        .iter()
        .map(|a| cstring(a))
        .collect::<Option<_>>()
        .ok_or_else(nul_error)?;
    let file = {
        use std::os::unix::ffi::OsStrExt;
        CString::new(cmd.file.as_os_str().as_bytes()).map_err(|_| nul_error())?
    };
    let argv0 = cmd
        .argv
        .first()
        .map(|a| a.as_bytes().to_vec())
        .unwrap_or_default();

    let devnull_fd = open_for_child(Path::new("/dev/null"), true).map_err(|e| open_error(&p.name, &e))?;
    let devnull = devnull_fd.as_raw_fd();
    let mut owned = vec![devnull_fd];
    let out = if capture[0] {
        capture_pipe(&mut owned, &mut pipes[0], &p.name)?
    } else {
        stdio_source(&p.stdout, libc::STDOUT_FILENO, devnull, &mut owned, fallbacks)
    };
    let err = if p.redirect_stderr {
        out
    } else if capture[1] {
        capture_pipe(&mut owned, &mut pipes[1], &p.name)?
    } else {
        stdio_source(&p.stderr, libc::STDERR_FILENO, devnull, &mut owned, fallbacks)
    };

    let directory = match &p.directory {
        Some(d) => Some(cstring(d).ok_or_else(|| SpawnError::Dispatchers {
            name: p.name.clone(),
            errno: "EINVAL".into(),
        })?),
        None => None,
    };
    Ok(ChildPlan {
        voice: Voice::Supervisor,
        exec: ExecPlan::Program { file, argv0 },
        argv: CArray::new(argv),
        envp: base_env.envp(&command::child_extra(p)),
        stdio: [devnull, out, err],
        devnull,
        _owned: owned,
        foreground_tty: None,
        user: plan_user(p.user.as_deref(), db),
        directory,
        umask: p.umask.map(|m| m as libc::mode_t),
        fd_limit: fd_close_limit(),
    })
}

/// `fork_and_exec` for a program, with supervisord's texts for a failed fork.
fn fork_program(p: &ProcessConfig, plan: &ChildPlan) -> Result<i32, SpawnError> {
    fork_and_exec(plan).map_err(|errno| match errno {
        libc::EAGAIN => SpawnError::TooManyProcesses(p.name.clone()),
        n => SpawnError::Fork {
            name: p.name.clone(),
            errno: errno_text(n),
        },
    })
}

/// `fork`, run the plan in the child, and put the child in its own process
/// group from the parent's side too, so that a signal to the group sent
/// right after we return cannot miss it. Returns the pid or the errno.
fn fork_and_exec(plan: &ChildPlan) -> Result<i32, i32> {
    // nix's fork asks the same promise of its caller, so the raw call stays.
    // SAFETY: the child only runs `run_child`, which makes async-signal-safe
    // calls on memory prepared before the fork and never returns, so no lock
    // another thread held at the fork is ever needed in the child.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(last_errno());
    }
    if pid == 0 {
        run_child(plan);
    }
    // EACCES (the child already exec'd) and ESRCH (already gone) mean the
    // child did it itself; there is nothing else this call can report.
    let child = nix::unistd::Pid::from_raw(pid);
    let _ = nix::unistd::setpgid(child, child);
    Ok(pid)
}

/// Spawn one process of a program. `base_env` is rinit's own environment.
/// Returns the child's pid (which is also its process group id).
pub fn spawn_program(p: &ProcessConfig, base_env: &Environ) -> Result<i32, SpawnError> {
    spawn_program_with(p, base_env, &UserDb::default())
}

/// [`spawn_program`] with an explicit user database (tests, or an
/// alternative root).
pub fn spawn_program_with(p: &ProcessConfig, base_env: &Environ, users: &UserDb) -> Result<i32, SpawnError> {
    spawn_captured(p, base_env, users, [false, false], &mut Vec::new()).map(|(pid, _)| pid)
}

/// Spawn with the streams flagged in `capture` (stdout, stderr) going into
/// pipes whose non-blocking read ends are returned (`output::capture`).
/// A pass-through log file that cannot be opened is added to `fallbacks`.
pub fn spawn_captured(
    p: &ProcessConfig,
    base_env: &Environ,
    users: &UserDb,
    capture: [bool; 2],
    fallbacks: &mut Vec<LogFallback>,
) -> Result<(i32, [Option<OwnedFd>; 2]), SpawnError> {
    let mut pipes = [None, None];
    let plan = plan_program(p, base_env, users, capture, &mut pipes, fallbacks)?;
    let pid = fork_program(p, &plan)?;
    // The plan (and with it the write ends) is dropped here: the child
    // holds the only writers, so its exit gives rinit EOF.
    Ok((pid, pipes))
}

/// A pipe for a child's stdin: the read end for the child (blocking, as a
/// program expects), the write end for rinit (non-blocking); both
/// close-on-exec.
fn stdin_pipe(name: &str) -> Result<(OwnedFd, OwnedFd), SpawnError> {
    let (r, w) = cloexec_pipe(name)?;
    set_nonblocking(&w);
    Ok((r, w))
}

/// A close-on-exec pipe: (read end, write end).
fn cloexec_pipe(name: &str) -> Result<(OwnedFd, OwnedFd), SpawnError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| open_error(name, &e.into()))
}

/// rinit's end of a pipe never blocks its loop.
fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).unwrap_or(0);
    let _ = fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_retain(fl) | OFlag::O_NONBLOCK),
    );
}

/// An event listener's pipes, as rinit holds them: the write end of the
/// listener's stdin (non-blocking) and the read end of its stdout
/// (non-blocking), the protocol channel (docs/events.md).
pub struct ListenerPipes {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
}

/// Spawn an event listener: like a program whose stdout is captured, plus a
/// pipe on its stdin for the events. Its stderr goes where its config says.
pub fn spawn_listener(
    p: &ProcessConfig,
    base_env: &Environ,
    users: &UserDb,
) -> Result<(i32, ListenerPipes), SpawnError> {
    let mut pipes = [None, None];
    let mut fallbacks = Vec::new();
    let mut plan = plan_program(p, base_env, users, [true, false], &mut pipes, &mut fallbacks)?;
    // A listener's stderr file that cannot be opened stays supervisord's
    // spawn error (docs/output.md): only programs fall back.
    if let Some(f) = fallbacks.first() {
        return Err(open_error(&p.name, &f.error));
    }
    let no_pipe = || open_error(&p.name, &std::io::Error::from_raw_os_error(libc::EPIPE));
    let stdout = pipes[0].take().ok_or_else(no_pipe)?;
    let (child_read, stdin) = stdin_pipe(&p.name)?;
    plan.stdio[0] = child_read.as_raw_fd();
    // The plan keeps the child's end open until the fork is done.
    plan._owned.push(child_read);
    let pid = fork_program(p, &plan)?;
    Ok((pid, ListenerPipes { stdin, stdout }))
}

/// `execvp`'s candidate files: the word itself if it has a `/`, else each
/// PATH entry joined with it (an empty entry meaning the current directory).
fn execvp_candidates(word: &[u8], path: Option<&[u8]>) -> Vec<Vec<u8>> {
    if word.is_empty() {
        return Vec::new();
    }
    if word.contains(&b'/') {
        return vec![word.to_vec()];
    }
    path.unwrap_or(b"/bin:/usr/bin")
        .split(|b| *b == b':')
        .map(|dir| {
            let mut c = dir.to_vec();
            if !c.is_empty() {
                c.push(b'/');
            }
            c.extend_from_slice(word);
            c
        })
        .collect()
}

/// Single-program mode (docs/design.md): run `argv` as rinit's one child with
/// rinit's stdio and environment, in its own process group, made the
/// foreground group of `foreground_tty` if given. Returns the pid. If the
/// command cannot be found the child exits 127, if it cannot be executed
/// 126, after one shell-style line on its stderr (`rinit: CMD: No such file
/// or directory`).
///
/// `Err` is the exit status rinit should end with when there is no child
/// at all; the reason has already been written to stderr in the same
/// style: 127 for an empty argv, 126 when the command cannot be passed to
/// the kernel (a NUL byte) or `/dev/null` cannot be opened or `fork` fails.
pub fn spawn_single(argv: &[String], foreground_tty: Option<RawFd>) -> Result<i32, i32> {
    use std::os::unix::ffi::OsStrExt;
    let env: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            kv
        })
        .collect();
    spawn_single_with(argv, foreground_tty, env, [0, 1, 2])
}

/// [`spawn_single`] with an explicit environment (`K=V` byte strings) and
/// stdio sources, so tests can capture the child's stderr.
fn spawn_single_with(
    argv: &[String],
    foreground_tty: Option<RawFd>,
    env: Vec<Vec<u8>>,
    stdio: [RawFd; 3],
) -> Result<i32, i32> {
    let Some(word) = argv.first() else {
        write_line(&[b"rinit: no command given\n"]);
        return Err(127);
    };
    let fail = |errno: i32| {
        let text = exec_strerror(errno)
            .map(str::to_string)
            .unwrap_or_else(|| errno_text(errno));
        write_line(&[b"rinit: ", word.as_bytes(), b": ", text.as_bytes(), b"\n"]);
        126
    };
    let path = env.iter().rev().find_map(|kv| kv.strip_prefix(b"PATH="));
    let candidates: Vec<CString> = execvp_candidates(word.as_bytes(), path)
        .into_iter()
        .map(CString::new)
        .collect::<Result<_, _>>()
        .map_err(|_| fail(libc::EINVAL))?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| cstring(a))
        .collect::<Option<_>>()
        .ok_or_else(|| fail(libc::EINVAL))?;
    let envp = Envp::owned(env.into_iter().filter_map(|kv| CString::new(kv).ok()).collect());
    let devnull_fd = open_for_child(Path::new("/dev/null"), true)
        .map_err(|e| fail(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let plan = ChildPlan {
        voice: Voice::Rinit,
        exec: ExecPlan::Search {
            candidates,
            argv0: word.as_bytes().to_vec(),
        },
        argv: CArray::new(args),
        envp,
        stdio,
        devnull: devnull_fd.as_raw_fd(),
        _owned: vec![devnull_fd],
        foreground_tty,
        user: UserPlan::Keep,
        directory: None,
        umask: None,
        fd_limit: fd_close_limit(),
    };
    fork_and_exec(&plan).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::child::{close_via_proc, format_decimal, parse_fd_name};
    use super::command::*;
    use super::*;
    use crate::users::tests::tempdir::Dir;
    use std::os::unix::fs::symlink;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn pc(name: &str, command: &str) -> ProcessConfig {
        ProcessConfig {
            group: format!("{name}-group"),
            stdout: LogDest::Null,
            stderr: LogDest::Null,
            ..ProcessConfig::for_test(name, command)
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sys_env() -> Environ {
        Environ::from_pairs(env(&[
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("HOME", "/root"),
        ]))
    }

    /// Wait for `pid` and return its exit status (or 128+signal).
    fn wait_status(pid: i32) -> i32 {
        use nix::sys::wait::{waitpid, WaitStatus};
        loop {
            match waitpid(nix::unistd::Pid::from_raw(pid), None) {
                Ok(WaitStatus::Exited(_, code)) => return code,
                Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                Ok(other) => panic!("unexpected wait status {other:?}"),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => panic!("waitpid failed: {e}"),
            }
        }
    }

    fn write_file(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Run a program whose stdout and stderr go to one file; return
    /// (exit status, output).
    fn run_capture(mut p: ProcessConfig, base_env: &Environ) -> (i32, String) {
        let d = Dir::new("spawn-out");
        let out = d.path().join("out.log");
        p.stdout = LogDest::File(out.clone());
        p.redirect_stderr = true;
        let pid = spawn_program(&p, base_env).unwrap_or_else(|e| panic!("spawn: {e}"));
        let status = wait_status(pid);
        (status, std::fs::read_to_string(&out).unwrap_or_default())
    }

    // --- splitting --------------------------------------------------------

    #[test]
    fn split_matches_python_shlex() {
        // Every expectation below was produced by python3's shlex.split.
        let ok: &[(&str, &[&str])] = &[
            ("a b c", &["a", "b", "c"]),
            ("  lead  and  trail  ", &["lead", "and", "trail"]),
            ("tab\tsep\nnl\rcr", &["tab", "sep", "nl", "cr"]),
            ("''", &[""]),
            ("a '' b", &["a", "", "b"]),
            ("\"\"", &[""]),
            ("x''", &["x"]),
            ("'a b' c", &["a b", "c"]),
            ("\"a b\" c", &["a b", "c"]),
            (r#""a \" b""#, &[r#"a " b"#]),
            (r#""a \\ b""#, &[r"a \ b"]),
            (r#""a \$ \` \n b""#, &[r"a \$ \` \n b"]),
            (r"a\ b", &["a b"]),
            (r"a\\b", &[r"a\b"]),
            (r"\'quoted\'", &["'quoted'"]),
            (r#""it's""#, &["it's"]),
            (r"'back\slash'", &[r"back\slash"]),
            ("sh -c 'echo C#D'", &["sh", "-c", "echo C#D"]),
            ("echo #comment", &["echo", "#comment"]),
            ("a#b", &["a#b"]),
            ("ab\"cd\"ef", &["abcdef"]),
            ("a'b c'd", &["ab cd"]),
            (r#"\""#, &["\""]),
            ("\"\\\n\"", &["\\\n"]),
            ("a\\\nb", &["a\nb"]),
            (
                "echo $HOME; ls | wc > f && x",
                &["echo", "$HOME;", "ls", "|", "wc", ">", "f", "&&", "x"],
            ),
            ("unicod\u{e9} \u{2713}", &["unicod\u{e9}", "\u{2713}"]),
            ("\u{a0}nbsp\u{a0}", &["\u{a0}nbsp\u{a0}"]),
            ("a\\ ", &["a "]),
            (r"'\'", &[r"\"]),
            ("\x0bvt\x0cff", &["\x0bvt\x0cff"]),
            ("'' ''", &["", ""]),
            ("\"\"x\"\"", &["x"]),
            ("", &[]),
            ("   ", &[]),
        ];
        for (input, want) in ok {
            let got = split_command(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(&got, want, "split of {input:?}");
        }
        let bad: &[(&str, &str)] = &[
            ("\\", "No escaped character"),
            ("'", "No closing quotation"),
            ("\"", "No closing quotation"),
            ("a \"b", "No closing quotation"),
            ("a 'b", "No closing quotation"),
            ("\"a\\", "No escaped character"),
            ("sh -c 'echo C#D", "No closing quotation"),
            (r#""\""#, "No closing quotation"),
        ];
        for (input, want) in bad {
            let e = split_command(input).expect_err(input);
            assert_eq!(&e.to_string(), want, "error for {input:?}");
        }
    }

    // --- error texts ------------------------------------------------------

    #[test]
    fn spawnerr_texts_are_supervisords() {
        let cases = [
            (
                SpawnError::NotFound("/nonexistent/cmd".into()),
                "can't find command '/nonexistent/cmd'",
            ),
            (SpawnError::NotFound("it's".into()), "can't find command \"it's\""),
            (
                SpawnError::IsDirectory("/tmp".into()),
                "command at '/tmp' is a directory",
            ),
            (
                SpawnError::NotExecutable("/w/noexec.txt".into()),
                "command at '/w/noexec.txt' is not executable",
            ),
            (
                SpawnError::NoPermission("/w/rootonly.sh".into()),
                "no permission to run command '/w/rootonly.sh'",
            ),
            (
                SpawnError::Parse {
                    command: "sh -c 'echo C#D".into(),
                    error: "No closing quotation".into(),
                },
                "can't parse command \"sh -c 'echo C#D\": No closing quotation",
            ),
            (
                SpawnError::Parse {
                    command: "a\\".into(),
                    error: "No escaped character".into(),
                },
                "can't parse command 'a\\\\': No escaped character",
            ),
            (SpawnError::Empty, "command is empty"),
            (
                SpawnError::TooManyFiles("web".into()),
                "too many open files to spawn 'web'",
            ),
            (
                SpawnError::Dispatchers {
                    name: "asroot".into(),
                    errno: "EACCES".into(),
                },
                "unknown error making dispatchers for 'asroot': EACCES",
            ),
            (
                SpawnError::TooManyProcesses("web".into()),
                "Too many processes in process table to spawn 'web'",
            ),
            (
                SpawnError::Fork {
                    name: "web".into(),
                    errno: "ENOMEM".into(),
                },
                "unknown error during fork for 'web': ENOMEM",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn errno_names_follow_python() {
        assert_eq!(errno_text(libc::ENOENT), "ENOENT");
        assert_eq!(errno_text(libc::EACCES), "EACCES");
        assert_eq!(errno_text(libc::ENOEXEC), "ENOEXEC");
        assert_eq!(errno_text(libc::EAGAIN), "EAGAIN");
        assert_eq!(errno_text(35), "EDEADLOCK");
        assert_eq!(errno_text(95), "ENOTSUP");
        assert_eq!(errno_text(41), "41");
        assert_eq!(errno_text(9999), "9999");
    }

    #[test]
    fn decimal_formatting_without_allocation() {
        let mut b = [0u8; 10];
        assert_eq!(format_decimal(0, &mut b), b"0");
        assert_eq!(format_decimal(41, &mut b), b"41");
        assert_eq!(format_decimal(u32::MAX, &mut b), b"4294967295");
        assert_eq!(parse_fd_name(b"17\0\0"), Some(17));
        assert_eq!(parse_fd_name(b".\0"), None);
        assert_eq!(parse_fd_name(b"\0"), None);
        assert_eq!(parse_fd_name(b"99999999999999\0"), None);
    }

    // --- lookup -----------------------------------------------------------

    /// A tree with an executable, a non-executable file, a directory and a
    /// symlink, in two PATH directories.
    fn lookup_tree() -> Dir {
        let d = Dir::new("lookup");
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(a.join("isdir")).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        write_file(&a.join("plain"), "data", 0o644);
        write_file(&b.join("plain"), "#!/bin/sh\n", 0o755);
        write_file(&b.join("tool"), "#!/bin/sh\n", 0o755);
        write_file(&b.join("isdir"), "#!/bin/sh\n", 0o755);
        write_file(&a.join("run"), "#!/bin/sh\n", 0o700);
        symlink(b.join("tool"), a.join("link")).expect("symlink");
        d
    }

    #[test]
    fn lookup_with_slash_is_used_as_is() {
        let d = lookup_tree();
        let a = d.path().join("a");
        let run = a.join("run");
        let r = resolve_command(
            &format!("{} x 'y z'", run.display()),
            None,
            &[],
            &Environ::default(),
        )
        .expect("found");
        assert_eq!(r.file, run);
        assert_eq!(r.argv, vec![run.display().to_string(), "x".into(), "y z".into()]);

        let e = resolve_command("/nonexistent/cmd", None, &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "can't find command '/nonexistent/cmd'");
        let e = resolve_command("/tmp", None, &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "command at '/tmp' is a directory");
        let plain = a.join("plain");
        let e = resolve_command(&plain.display().to_string(), None, &[], &Environ::default()).unwrap_err();
        assert_eq!(e, SpawnError::NotExecutable(plain.display().to_string()));
        let link = a.join("link");
        assert!(
            resolve_command(&link.display().to_string(), None, &[], &Environ::default()).is_ok(),
            "symlinks are followed"
        );
    }

    #[test]
    fn lookup_relative_with_slash_uses_directory() {
        let d = lookup_tree();
        let dir = d.path().display().to_string();
        let r =
            resolve_command("./a/run arg", Some(&dir), &[], &Environ::default()).expect("found in directory");
        assert_eq!(r.file, d.path().join("./a/run"));
        assert_eq!(r.argv, vec!["./a/run".to_string(), "arg".into()]);
        assert_eq!(r.shown, "./a/run");
        let e = resolve_command("./a/missing", Some(&dir), &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "can't find command './a/missing'");
        let e = resolve_command("a/plain", Some(&dir), &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "command at 'a/plain' is not executable");
        // Without a directory it is rinit's cwd (the test runs in the crate root).
        let e = resolve_command("./a/run", None, &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "can't find command './a/run'");
    }

    #[test]
    fn lookup_path_order_and_first_existing_wins() {
        let d = lookup_tree();
        let a = d.path().join("a").display().to_string();
        let b = d.path().join("b").display().to_string();
        let ab = format!("{a}:{b}");
        let ba = format!("{b}:{a}");

        // The program's PATH beats rinit's.
        let r = resolve_command(
            "tool",
            None,
            &env(&[("PATH", &ab)]),
            &Environ::from_pairs(env(&[("PATH", "/nonexistent")])),
        )
        .expect("tool");
        assert_eq!(r.file, PathBuf::from(format!("{b}/tool")));
        assert_eq!(r.argv[0], "tool");
        // rinit's PATH when the program has none.
        let r =
            resolve_command("tool", None, &[], &Environ::from_pairs(env(&[("PATH", &ab)]))).expect("tool");
        assert_eq!(r.shown, format!("{b}/tool"));
        // The last PATH= in the program's environment wins.
        let prog = env(&[("PATH", "/nonexistent"), ("PATH", &ab)]);
        assert!(resolve_command("tool", None, &prog, &Environ::default()).is_ok());

        // Unlike execvp, a non-executable or a directory earlier in PATH wins.
        let e = resolve_command("plain", None, &env(&[("PATH", &ab)]), &Environ::default()).unwrap_err();
        assert_eq!(e, SpawnError::NotExecutable(format!("{a}/plain")));
        assert!(resolve_command("plain", None, &env(&[("PATH", &ba)]), &Environ::default()).is_ok());
        let e = resolve_command("isdir", None, &env(&[("PATH", &ab)]), &Environ::default()).unwrap_err();
        assert_eq!(e, SpawnError::IsDirectory(format!("{a}/isdir")));

        // Not found names the word.
        let e = resolve_command(
            "nonexistentcmd",
            None,
            &env(&[("PATH", &ab)]),
            &Environ::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "can't find command 'nonexistentcmd'");
        // A trailing slash in a PATH entry does not double it.
        let r = resolve_command(
            "tool",
            None,
            &env(&[("PATH", &format!("{b}/"))]),
            &Environ::default(),
        )
        .expect("tool");
        assert_eq!(r.shown, format!("{b}/tool"));
    }

    #[test]
    fn lookup_default_path_and_relative_entries() {
        // rinit's PATH empty → /bin:/usr/bin:/usr/local/bin.
        let r = resolve_command(
            "sh -c true",
            None,
            &[],
            &Environ::from_pairs(env(&[("PATH", "")])),
        )
        .expect("sh");
        assert_eq!(r.shown, "/bin/sh");
        assert_eq!(
            resolve_command("sh", None, &[], &Environ::default())
                .expect("sh")
                .shown,
            "/bin/sh"
        );
        // An empty program PATH is still "defined": only "" (relative) is searched.
        let e = resolve_command("sh", None, &env(&[("PATH", "")]), &sys_env()).unwrap_err();
        assert_eq!(e.to_string(), "can't find command 'sh'");
        // A relative PATH entry is looked up in the program's directory.
        let d = lookup_tree();
        let dir = d.path().display().to_string();
        let r =
            resolve_command("tool", Some(&dir), &env(&[("PATH", "b")]), &Environ::default()).expect("tool");
        assert_eq!(r.shown, "b/tool");
        assert_eq!(r.file, d.path().join("b/tool"));
    }

    #[test]
    fn lookup_parse_and_empty() {
        assert_eq!(
            resolve_command("   ", None, &[], &Environ::default()).unwrap_err(),
            SpawnError::Empty
        );
        // As in Python, os.path.join("/bin", "") is "/bin/", which exists.
        let e = resolve_command("''", None, &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "command at '/bin/' is a directory");
        let e =
            resolve_command("''", None, &env(&[("PATH", "/nonexistent")]), &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "can't find command ''");
        let e = resolve_command("sh -c 'echo C#D", None, &[], &Environ::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "can't parse command \"sh -c 'echo C#D\": No closing quotation"
        );
        let e = resolve_command("a\0b", None, &[], &Environ::default()).unwrap_err();
        assert_eq!(e.to_string(), "can't parse command 'a\\x00b': embedded null byte");
    }

    #[test]
    fn no_permission_for_unprivileged_caller() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let d = lookup_tree();
        let run = d.path().join("a/run"); // 0700, owned by root
        for dir in [d.path().to_path_buf(), d.path().join("a")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let cmd = run.display().to_string();
        // Kernel credentials are per thread; the raw syscall (unlike libc's
        // setresuid) changes only this short-lived thread's uids.
        let got = std::thread::spawn(move || {
            // SAFETY: setresuid passes no memory, and the raw syscall changes
            // only this thread, which ends right after.
            let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 0) };
            assert_eq!(r, 0);
            resolve_command(&cmd, None, &[], &Environ::default())
        })
        .join()
        .expect("thread");
        assert_eq!(
            got.unwrap_err().to_string(),
            format!("no permission to run command '{}'", run.display())
        );
    }

    // --- environment --------------------------------------------------------

    #[test]
    fn environment_order_and_overrides() {
        let mut p = pc("web_01", "x");
        p.group = "web".into();
        p.serverurl = Some("unix:///tmp/s.sock".into());
        p.environment = env(&[
            ("FOO", "bar"),
            ("HOME", "/home/app"),
            ("SUPERVISOR_GROUP_NAME", "g1"),
            ("FOO", "baz"),
        ]);
        let base = Environ::from_pairs(env(&[("HOME", "/root"), ("PATH", "/bin"), ("HOME", "/root2")]));
        let got = child_environment(&p, &base);
        assert_eq!(
            got,
            env(&[
                ("HOME", "/home/app"),
                ("PATH", "/bin"),
                ("SUPERVISOR_ENABLED", "1"),
                ("SUPERVISOR_SERVER_URL", "unix:///tmp/s.sock"),
                ("SUPERVISOR_PROCESS_NAME", "web_01"),
                ("SUPERVISOR_GROUP_NAME", "g1"),
                ("FOO", "baz"),
            ])
        );
        p.serverurl = None;
        assert!(!child_environment(&p, &base)
            .iter()
            .any(|(k, _)| k == "SUPERVISOR_SERVER_URL"));
    }

    // --- real spawns --------------------------------------------------------

    #[test]
    fn child_gets_clean_signal_state_and_only_fds_0_1_2() {
        // Make this thread's state as dirty as rinit's will be: signals
        // blocked (rinit reads them via signalfd), SIGPIPE/SIGXFSZ ignored
        // (the Rust runtime ignores SIGPIPE), and an fd without CLOEXEC.
        // The ignores are process-wide, of two signals no other test relies on.
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGTERM,
            Signal::SIGUSR1,
            Signal::SIGCHLD,
            Signal::SIGHUP,
            Signal::SIGINT,
        ] {
            set.add(s);
        }
        let mut old_mask = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask)).unwrap();
        crate::signals::set_disposition(libc::SIGPIPE, libc::SIG_IGN);
        crate::signals::set_disposition(libc::SIGXFSZ, libc::SIG_IGN);
        let leak = nix::fcntl::open(
            c"/dev/zero",
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        assert!(leak > 2);
        let p = pc(
            "hygiene",
            r#"/bin/sh -c 'grep -E "SigBlk|SigIgn" /proc/self/status; ls /proc/self/fd; readlink /proc/self/fd/0'"#,
        );
        let (status, out) = run_capture(p, &sys_env());
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None).unwrap();
        nix::unistd::close(leak).unwrap();
        assert_eq!(status, 0, "output: {out}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"SigBlk:\t0000000000000000"), "{out}");
        assert!(lines.contains(&"SigIgn:\t0000000000000000"), "{out}");
        // grep's lines, then ls's fds: 0-2 plus the one ls opened for the
        // directory itself (3), then stdin's target.
        let fds: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.chars().all(|c| c.is_ascii_digit()))
            .collect();
        assert_eq!(fds, vec!["0", "1", "2", "3"], "{out}");
        assert_eq!(lines.last(), Some(&"/dev/null"), "stdin is /dev/null: {out}");
    }

    #[test]
    fn child_setup_environment_directory_umask_and_group() {
        let d = Dir::new("setup");
        let mut p = pc("envtest", "");
        p.command = r#"/bin/sh -c 'echo "$SUPERVISOR_ENABLED|$SUPERVISOR_PROCESS_NAME|$SUPERVISOR_GROUP_NAME|$FOO|$HOME"; env | grep -c "^FOO="; pwd; umask; echo "$$ $(cut -d" " -f5 /proc/$$/stat)"'"#.into();
        p.environment = env(&[("FOO", "one"), ("FOO", "two")]);
        p.directory = Some(d.path().display().to_string());
        p.umask = Some(0o027);
        let (status, out) = run_capture(p, &sys_env());
        assert_eq!(status, 0, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"1|envtest|envtest-group|two|/root"), "{out}");
        assert_eq!(lines.get(1), Some(&"1"), "no duplicate keys: {out}");
        let cwd = std::fs::canonicalize(d.path()).expect("canon");
        assert_eq!(lines.get(2).map(PathBuf::from), Some(cwd), "{out}");
        assert_eq!(lines.get(3), Some(&"0027"), "{out}");
        let pg: Vec<&str> = lines.get(4).map(|l| l.split(' ').collect()).unwrap_or_default();
        assert_eq!(pg.len(), 2, "{out}");
        assert_eq!(pg.first(), pg.get(1), "own process group: {out}");
    }

    #[test]
    fn child_drops_to_nobody_with_all_ids() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Ok(nobody) = crate::users::resolve("nobody") else {
            eprintln!("skipped: no user nobody");
            return;
        };
        let mut p = pc(
            "asnobody",
            r#"/bin/sh -c 'grep -E "^(Uid|Gid|Groups):" /proc/self/status'"#,
        );
        p.user = Some("nobody".into());
        let (status, out) = run_capture(p, &sys_env());
        assert_eq!(status, 0, "{out}");
        let uid = nobody.uid;
        let gid = nobody.gid;
        assert!(
            out.contains(&format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!("Gid:\t{gid}\t{gid}\t{gid}\t{gid}\n")),
            "{out}"
        );
        let groups_line = out.lines().find(|l| l.starts_with("Groups:")).unwrap_or("");
        let mut got: Vec<u32> = groups_line
            .trim_start_matches("Groups:")
            .split_whitespace()
            .filter_map(|g| g.parse().ok())
            .collect();
        got.sort_unstable();
        let mut want = nobody.groups.clone();
        want.sort_unstable();
        want.dedup();
        assert_eq!(got, want, "{out}");
    }

    #[test]
    fn user_lookup_failures_are_reported_by_the_child() {
        let mut p = pc("ghost", "/bin/true");
        p.user = Some("no-such-user-here".into());
        let (status, out) = run_capture(p, &sys_env());
        assert_eq!(status, 127);
        assert_eq!(
            out,
            "supervisor: couldn't setuid to no-such-user-here: Can't find username 'no-such-user-here'\n\
             supervisor: child process was not spawned\n"
        );
    }

    #[test]
    fn chdir_failure_is_supervisords_message() {
        let mut p = pc("badchdir", "/bin/true");
        p.directory = Some("/nonexistent/dir".into());
        let (status, out) = run_capture(p, &sys_env());
        assert_eq!(status, 127);
        assert_eq!(
            out,
            "supervisor: couldn't chdir to /nonexistent/dir: ENOENT\nsupervisor: child process was not spawned\n"
        );
    }

    #[test]
    fn exec_failure_is_supervisords_message() {
        let d = Dir::new("badbin");
        let bin = d.path().join("badbin");
        write_file(&bin, "\x7fNOT-AN-ELF\x00\x01\x02", 0o755);
        let p = pc("badbin", &format!("{} arg", bin.display()));
        let (status, out) = run_capture(p, &sys_env());
        assert_eq!(status, 127);
        assert_eq!(
            out,
            format!(
                "supervisor: couldn't exec {}: ENOEXEC\nsupervisor: child process was not spawned\n",
                bin.display()
            )
        );
    }

    #[test]
    fn exit_status_and_argv0_as_written() {
        let mut p = pc("argv0", r#"sh -c 'echo "$0"; exit 7'"#);
        p.environment = env(&[("PATH", "/usr/bin:/bin")]);
        let (status, out) = run_capture(p, &sys_env());
        assert_eq!(status, 7);
        assert_eq!(out, "sh\n");
    }

    #[test]
    fn streams_go_to_null_and_separate_files() {
        let d = Dir::new("streams");
        let err = d.path().join("err.log");
        std::fs::write(&err, "existing\n").expect("seed");
        let mut p = pc("streams", "/bin/sh -c 'echo out; echo err >&2'");
        p.stdout = LogDest::Null;
        p.stderr = LogDest::File(err.clone());
        let pid = spawn_program(&p, &sys_env()).expect("spawn");
        assert_eq!(wait_status(pid), 0);
        assert_eq!(
            std::fs::read_to_string(&err).expect("read"),
            "existing\nerr\n",
            "appended"
        );
        let mode = std::fs::metadata(&err).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644 & !0o022 & mode, "created with at most 0644");
    }

    /// Issue 11: a log file that cannot be opened used to refuse the spawn
    /// (BACKOFF, FATAL); the program now runs with rinit's own fd there.
    #[test]
    fn unopenable_log_files_fall_back_to_rinits_fds() {
        let mut p = pc("nolog", "/bin/true");
        p.stdout = LogDest::File(PathBuf::from("/nonexistent/dir/out.log"));
        p.stderr = LogDest::File(PathBuf::from("/tmp"));
        let mut fallbacks = Vec::new();
        let (pid, _) = spawn_captured(&p, &sys_env(), &UserDb::default(), [false, false], &mut fallbacks)
            .expect("the program runs");
        assert_eq!(wait_status(pid), 0);
        let got: Vec<(RawFd, String)> = fallbacks
            .iter()
            .map(|f| (f.fd, open_error("nolog", &f.error).to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    1,
                    "unknown error making dispatchers for 'nolog': ENOENT".to_string()
                ),
                (
                    2,
                    "unknown error making dispatchers for 'nolog': EISDIR".to_string()
                )
            ]
        );
        p.stdout = LogDest::Null;
        p.stderr = LogDest::Null;
        p.command = "/nonexistent/cmd".into();
        assert_eq!(
            spawn_program(&p, &sys_env()).unwrap_err().to_string(),
            "can't find command '/nonexistent/cmd'"
        );
    }

    // --- single-program mode ----------------------------------------------

    /// Run single mode with stderr (and stdout) captured in a file.
    fn run_single(argv: &[&str], path: &str) -> (i32, String) {
        let d = Dir::new("single");
        let log = d.path().join("err.log");
        let f = open_for_child(&log, false).expect("open log");
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let env = vec![format!("PATH={path}").into_bytes(), b"X=1".to_vec()];
        let pid = spawn_single_with(&argv, None, env, [0, f.as_raw_fd(), f.as_raw_fd()]).expect("fork");
        let status = wait_status(pid);
        (status, std::fs::read_to_string(&log).unwrap_or_default())
    }

    #[test]
    fn single_mode_exit_codes_and_messages() {
        let (s, out) = run_single(&["sh", "-c", "echo $X; exit 3"], "/usr/bin:/bin");
        assert_eq!((s, out.as_str()), (3, "1\n"));
        let (s, out) = run_single(&["nonexistent-cmd-xyz"], "/usr/bin:/bin");
        assert_eq!(
            (s, out.as_str()),
            (127, "rinit: nonexistent-cmd-xyz: No such file or directory\n")
        );
        let (s, out) = run_single(&["/nonexistent/cmd"], "/usr/bin:/bin");
        assert_eq!(
            (s, out.as_str()),
            (127, "rinit: /nonexistent/cmd: No such file or directory\n")
        );

        let d = Dir::new("single-path");
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        write_file(&a.join("tool"), "#!/bin/sh\necho wrong\n", 0o644);
        write_file(&b.join("tool"), "#!/bin/sh\necho right\n", 0o755);
        let ab = format!("{}:{}", a.display(), b.display());
        // execvp skips the non-executable candidate.
        let (s, out) = run_single(&["tool"], &ab);
        assert_eq!((s, out.as_str()), (0, "right\n"));
        // Only a non-executable one: Permission denied, 126.
        let (s, out) = run_single(&["tool"], &a.display().to_string());
        assert_eq!((s, out.as_str()), (126, "rinit: tool: Permission denied\n"));
        let (s, out) = run_single(&[&a.join("tool").display().to_string()], "/bin");
        assert_eq!(s, 126, "{out}");
        // A directory is "Permission denied" too.
        let (s, _) = run_single(&["/tmp"], "/bin");
        assert_eq!(s, 126);
    }

    /// Runs only when re-executed by `single_mode_makes_child_foreground`:
    /// as a session leader, it opens the pty slave (which becomes its
    /// controlling terminal) and starts single mode on it.
    #[test]
    fn foreground_helper() {
        let (Ok(slave), Ok(log)) = (std::env::var("RINIT_TTY_SLAVE"), std::env::var("RINIT_TTY_LOG")) else {
            return;
        };
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave)
            .expect("open slave");
        let out = open_for_child(Path::new(&log), false).expect("open log");
        let argv = [
            "/bin/sh".to_string(),
            "-c".into(),
            "cut -d' ' -f5,8 /proc/self/stat".into(),
        ];
        let env = vec![b"PATH=/usr/bin:/bin".to_vec()];
        let pid = spawn_single_with(
            &argv,
            Some(tty.as_raw_fd()),
            env,
            [0, out.as_raw_fd(), out.as_raw_fd()],
        )
        .expect("spawn");
        assert_eq!(wait_status(pid), 0);
    }

    #[test]
    fn single_mode_makes_child_foreground() {
        use nix::fcntl::OFlag;
        use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
        let Ok(master) = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC) else {
            eprintln!("skipped: no pty");
            return;
        };
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let slave = ptsname_r(&master).expect("ptsname_r");
        let d = Dir::new("tty");
        let log = d.path().join("out.log");
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("exe"));
        cmd.args(["--exact", "spawn::tests::foreground_helper", "--test-threads=1"])
            .env("RINIT_TTY_SLAVE", &slave)
            .env("RINIT_TTY_LOG", &log)
            .stdout(std::process::Stdio::null());
        // SAFETY: the hook runs between fork and exec, where it only makes
        // setsid, which is async-signal-safe and allocates nothing.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| Ok(nix::unistd::setsid().map(drop)?));
        }
        let status = cmd.status().expect("helper");
        drop(master);
        assert!(status.success(), "helper failed");
        let out = std::fs::read_to_string(&log).expect("log");
        let ids: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(ids.len(), 2, "{out}");
        assert_eq!(
            ids.first(),
            ids.get(1),
            "pgrp == terminal's foreground pgrp: {out}"
        );
    }

    #[test]
    fn single_mode_rejects_empty_argv() {
        assert_eq!(spawn_single(&[], None), Err(127));
        assert_eq!(spawn_single(&["a\0b".to_string()], None), Err(126));
    }

    #[test]
    fn execvp_candidate_list() {
        assert_eq!(
            execvp_candidates(b"x", Some(b"/a::b/")),
            vec![b"/a/x".to_vec(), b"x".to_vec(), b"b//x".to_vec()]
        );
        assert_eq!(execvp_candidates(b"./x", Some(b"/a")), vec![b"./x".to_vec()]);
        assert_eq!(
            execvp_candidates(b"x", None),
            vec![b"/bin/x".to_vec(), b"/usr/bin/x".to_vec()]
        );
        assert!(execvp_candidates(b"", Some(b"/a")).is_empty());
    }

    #[test]
    fn proc_fallback_closes_everything_above_2() {
        use nix::fcntl::{fcntl, open, FcntlArg::F_GETFD, OFlag};
        // SAFETY: the child only makes system calls that take no lock and
        // allocate nothing, then _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let a = open(c"/dev/null", OFlag::O_RDONLY, nix::sys::stat::Mode::empty()).unwrap_or(-1);
            let b = nix::unistd::dup2(a, 200);
            let ok = a > 2 && b == Ok(200) && close_via_proc();
            let gone = fcntl(a, F_GETFD).is_err() && fcntl(200, F_GETFD).is_err();
            let kept = fcntl(2, F_GETFD).is_ok();
            // SAFETY: _exit leaves the test harness's atexit handlers and
            // buffers, which belong to the parent, alone.
            unsafe { libc::_exit(if ok && gone && kept { 0 } else { 1 }) };
        }
        assert_eq!(wait_status(pid), 0);
    }
}

//! Black-box check of the child's state (docs/design.md): rinit is
//! started by a parent that blocked and ignored signals and leaked an fd,
//! the way a careless container runtime or shell might; the program rinit
//! starts must see none of it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RINIT: &str = env!("CARGO_BIN_EXE_rinit");

const PROBE: &str = r#"grep -E "^(SigBlk|SigIgn):" /proc/self/status; ls /proc/self/fd"#;

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("rinit-hygiene-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Make the command's process start dirty: TERM and USR1 blocked, INT, PIPE
/// and XFSZ ignored, and fd 9 open without close-on-exec.
fn dirty_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for s in [libc::SIGINT, libc::SIGPIPE, libc::SIGXFSZ] {
                libc::signal(s, libc::SIG_IGN);
            }
            let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            if fd < 0 || libc::dup2(fd, 9) != 9 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Run to completion with a deadline; returns (status code, stdout, stderr).
fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rinit");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rinit did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.code(), out, err)
}

fn assert_clean(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"SigBlk:\t0000000000000000"),
        "signal mask leaked:\n{out}"
    );
    assert!(
        lines.contains(&"SigIgn:\t0000000000000000"),
        "ignored signals leaked:\n{out}"
    );
    // 0-2, plus the fd `ls` itself opens for /proc/self/fd.
    let fds: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(fds, vec!["0", "1", "2", "3"], "fds leaked:\n{out}");
}

#[test]
fn single_mode_child_is_clean() {
    let (code, out, err) = run(dirty_parent(
        Command::new(RINIT).args(["--", "/bin/sh", "-c", PROBE]),
    ));
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_clean(&out);
}

#[test]
fn single_mode_not_found_and_not_executable() {
    let (code, _, err) = run(Command::new(RINIT).args(["--", "rinit-no-such-command"]));
    assert_eq!(code, Some(127));
    assert!(
        err.contains("rinit: rinit-no-such-command: No such file or directory"),
        "{err}"
    );
    let (code, _, err) = run(Command::new(RINIT).args(["--", "/etc/passwd"]));
    assert_eq!(code, Some(126));
    assert!(err.contains("rinit: /etc/passwd: Permission denied"), "{err}");
}

#[test]
fn config_mode_child_is_clean() {
    let d = TempDir::new("conf");
    let log = d.path().join("probe.log");
    let conf = d.path().join("supervisord.conf");
    let text = format!(
        "[supervisord]\nnodaemon=true\nlogfile={}\n\n[program:probe]\ncommand=/bin/sh -c '{}'\n\
         startsecs=0\nautorestart=false\nstdout_logfile={}\nredirect_stderr=true\n",
        d.path().join("rinit.log").display(),
        PROBE,
        log.display()
    );
    std::fs::write(&conf, text).expect("write conf");
    let (code, _, err) = run(dirty_parent(Command::new(RINIT).arg("-c").arg(&conf)));
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_clean(&std::fs::read_to_string(&log).expect("probe log"));
}

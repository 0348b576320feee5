//! Single-program mode (`rinit -- CMD ARGS`, docs/design.md), issue #3.
//!
//! Most cases run rinit as an ordinary process (it makes itself a child
//! subreaper then); the `pid1_*` tests run it as PID 1 of a new namespace.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RECORDER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/runtime/sigrecorder.py"
);

/// `rinit [-v] -- argv…` as a plain process; returns its exit code.
fn run_single(argv: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("rinit -- {argv:?} died of a signal: {:?}\n{text}", out.status));
    (code, text)
}

/// rinit as a plain process with captured output; on drop it and the
/// child's whole process group are SIGKILLed.
struct Single {
    child: Child,
    out: Capture,
    /// The program's pid (= its process group), once known.
    pgid: Option<i32>,
}

impl Single {
    fn start(argv: &[&str]) -> Single {
        let mut child = Command::new(BIN)
            .arg("--")
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let out = Capture::new();
        out.attach(child.stdout.take().unwrap(), Stream::Out);
        out.attach(child.stderr.take().unwrap(), Stream::Err);
        Single {
            child,
            out,
            pgid: None,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or_else(|| {
                    use std::os::unix::process::ExitStatusExt;
                    panic!(
                        "rinit died of signal {:?}\n{}",
                        st.signal(),
                        self.out.all().join("\n")
                    )
                });
            }
            assert!(
                Instant::now() < deadline,
                "rinit did not exit within {timeout:?}\n{}",
                self.out.all().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Single {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(g) = self.pgid {
            // SAFETY: kill of the process group of our own grandchild.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
    }
}

// ---------------------------------------------------------------------------
// Exit status
// ---------------------------------------------------------------------------

#[test]
fn exit_codes_0_to_255_are_passed_through() {
    let mut wrong = Vec::new();
    for n in 0..=255 {
        let (code, text) = run_single(&["sh", "-c", &format!("exit {n}")]);
        if code != n {
            wrong.push(format!("exit {n} -> {code} {text}"));
        }
    }
    assert!(wrong.is_empty(), "wrong exit statuses:\n{}", wrong.join("\n"));
}

#[test]
fn death_by_signal_gives_128_plus_n() {
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGKILL, "KILL"),
    ] {
        let (code, text) = run_single(&["sh", "-c", &format!("kill -{name} $$")]);
        assert_eq!(code, 128 + sig, "child killed by SIG{name}: {text}");
    }
}

/// rinit skips std's start-up (main.rs), which opened /dev/null on a
/// closed fd 0-2. rinit does that itself: otherwise the first file it opens
/// (/proc/self/status, then the signalfd) would take fd 0, and the child
/// would start with no stdin at all.
#[test]
fn a_closed_stdin_at_start_reaches_the_child_as_dev_null() {
    let out = Command::new("sh")
        .args(["-c", "exec \"$0\" -- readlink /proc/self/fd/0 <&-", BIN])
        .output()
        .expect("run sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        (out.status.code(), text.trim()),
        (Some(0), "/dev/null"),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn command_not_found_gives_127() {
    let (code, text) = run_single(&["/nonexistent/rinit-test-cmd"]);
    assert_eq!(code, 127, "{text}");
    let (code, text) = run_single(&["rinit-test-no-such-command-anywhere"]);
    assert_eq!(code, 127, "{text}");
}

#[test]
fn command_not_executable_gives_126() {
    let dir = TempDir::new("noexec");
    let f = dir.write("noexec.sh", "#!/bin/sh\nexit 0\n", false);
    let (code, text) = run_single(&[f.to_str().unwrap()]);
    assert_eq!(code, 126, "non-executable file: {text}");
    let (code, text) = run_single(&[dir.path.to_str().unwrap()]);
    assert_eq!(code, 126, "directory: {text}");
}

#[test]
fn verbose_logs_spawn_and_exit_in_supervisord_format() {
    let out = Command::new(BIN)
        .args(["-v", "--", "sh", "-c", "exit 3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect();
    let r = recs(&lines);
    assert_eq!(r.len(), 2, "{lines:?}");
    assert!(
        matches("DEBG spawned: 'sh' with pid {N}", &r[0].text()),
        "{lines:?}"
    );
    assert_eq!(r[1].text(), "DEBG exited: sh (exit status 3)", "{lines:?}");
    // Without -v the container's output is the program's alone.
    let out = Command::new(BIN)
        .args(["--", "sh", "-c", "exit 3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------------------
// Signal forwarding
// ---------------------------------------------------------------------------

/// Start the recorder for `sigs` under rinit, send each signal to rinit
/// (waiting for the child to record it), and check it exits 0.
fn forward_each(sigs: &[i32]) {
    let args: Vec<String> = sigs.iter().map(|s| s.to_string()).collect();
    let mut argv = vec!["python3", RECORDER];
    argv.extend(args.iter().map(String::as_str));
    let mut s = Single::start(&argv);
    let ready = s.out.wait_until(WAIT, "the recorder to be ready", |l| {
        l.iter().find(|x| x.starts_with("ready pid=")).cloned()
    });
    let pgid: i32 = ready.rsplit("pgid=").next().unwrap().parse().unwrap();
    s.pgid = Some(pgid);
    let mut missing = Vec::new();
    for &sig in sigs {
        // SAFETY: signal to our own child.
        let r = unsafe { libc::kill(s.pid(), sig) };
        assert_eq!(r, 0);
        let want = format!("got {sig}");
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if s.out.all().contains(&want) {
                break;
            }
            if Instant::now() > deadline || s.child.try_wait().unwrap().is_some() {
                missing.push(sig);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if s.child.try_wait().unwrap().is_some() {
            break;
        }
    }
    let still_running = match s.child.try_wait().unwrap() {
        None => "still running".to_string(),
        Some(st) => format!("rinit ended: {st}"),
    };
    if missing.is_empty() {
        assert_eq!(s.wait_exit(WAIT), 0, "{}", s.out.all().join("\n"));
    }
    assert!(
        missing.is_empty(),
        "signals not forwarded to the child: {missing:?} ({still_running})\n{}",
        s.out.all().join("\n")
    );
}

/// Signals whose default action in rinit would be a fault-style death if
/// they were left unblocked.
const FAULTS: [i32; 6] = [
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGSYS,
];

#[test]
fn every_standard_catchable_signal_is_forwarded() {
    require!(Need::Cmd("python3"));
    let sigs: Vec<i32> = (1..=31)
        .filter(|s| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(s) && !FAULTS.contains(s))
        .collect();
    forward_each(&sigs);
}

#[test]
fn fault_signals_sent_with_kill_are_forwarded() {
    require!(Need::Cmd("python3"));
    // SIGSEGV & co. sent with kill(2) (`docker kill -s SEGV`) are ordinary
    // catchable signals: rinit forwards every catchable signal except
    // CHLD, and docs/design.md says rinit never dies of a signal it did not choose.
    forward_each(&FAULTS);
}

#[test]
fn realtime_signals_are_forwarded() {
    require!(Need::Cmd("python3"));
    // glibc (the recorder's python) reserves 32 and 33; 34..64 are catchable.
    let sigs: Vec<i32> = (34..=64).collect();
    forward_each(&sigs);
}

const TERM_TRAPPING_PARENT: &str = r#"
trap 'echo parent-got-TERM' TERM
sleep 1000 &
echo "ready grandchild=$!"
while kill -0 $! 2>/dev/null; do wait $!; done
echo grandchild-gone
exit 0
"#;

/// The grandchild pid printed by TERM_TRAPPING_PARENT.
fn grandchild(out: &Capture) -> i32 {
    out.wait_until(WAIT, "the parent to be ready", |l| {
        l.iter()
            .find_map(|x| x.strip_prefix("ready grandchild=").and_then(|p| p.parse().ok()))
    })
}

#[test]
fn term_reaches_the_whole_process_group() {
    let mut s = Single::start(&["sh", "-c", TERM_TRAPPING_PARENT]);
    let gc = grandchild(&s.out);
    // Until the grandchild has exec'd sleep it may still run the parent's
    // trap handler (between fork and exec): a TERM then would be lost.
    poll(WAIT, "the grandchild to exec sleep", || {
        read_proc(gc).filter(|p| p.comm == "sleep")
    });
    let kids = children(s.pid());
    assert_eq!(kids.len(), 1, "rinit should have one child: {kids:?}");
    s.pgid = Some(kids[0]);
    kill(s.pid(), libc::SIGTERM);
    let code = s.wait_exit(WAIT);
    let all = s.out.all();
    assert_eq!(code, 0, "{all:?}");
    assert!(all.iter().any(|l| l == "parent-got-TERM"), "{all:?}");
    assert!(all.iter().any(|l| l == "grandchild-gone"), "{all:?}");
}

// ---------------------------------------------------------------------------
// As PID 1
// ---------------------------------------------------------------------------

fn launch_single(argv: &[&str]) -> Rinit {
    let mut a = vec!["--".to_string()];
    a.extend(argv.iter().map(|s| s.to_string()));
    Rinit::launch(Launch {
        rinit_args: a,
        ..Launch::default()
    })
}

#[test]
fn pid1_exit_status_is_the_childs() {
    require!(Need::PidNamespaces);
    for (script, want) in [
        ("exit 0", 0),
        ("exit 255", 255),
        ("exit 42", 42),
        ("kill -HUP $$", 129),
    ] {
        // The child's parent is PID 1: rinit really is the namespace's init.
        let script = format!("echo ppid=$PPID; {script}");
        let mut r = launch_single(&["sh", "-c", &script]);
        assert_eq!(r.wait_exit(WAIT), want, "{script}: {:?}", r.lines());
        assert!(
            r.lines().iter().any(|l| l == "ppid=1"),
            "{script}: {:?}",
            r.lines()
        );
    }
    let mut r = launch_single(&["/nonexistent/rinit-test-cmd"]);
    assert_eq!(r.wait_exit(WAIT), 127, "{:?}", r.lines());
}

#[test]
fn pid1_term_reaches_the_whole_process_group() {
    require!(Need::PidNamespaces);
    let mut r = launch_single(&["sh", "-c", TERM_TRAPPING_PARENT]);
    let gc = r.host_of(grandchild(&r.out));
    poll(WAIT, "the grandchild to exec sleep", || {
        read_proc(gc).filter(|p| p.comm == "sleep")
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(WAIT), 0, "{:?}", r.lines());
    let all = r.lines();
    assert!(all.iter().any(|l| l == "parent-got-TERM"), "{all:?}");
    assert!(all.iter().any(|l| l == "grandchild-gone"), "{all:?}");
}

#[test]
fn pid1_forwards_signals_that_have_no_default_effect_on_pid1() {
    require!(Need::PidNamespaces);
    // USR1 and INT sent to PID 1 from outside would be dropped by the kernel
    // if rinit did not catch them; they must reach the child.
    let script = r#"
trap 'echo got-USR1' USR1
trap 'echo got-INT; exit 7' INT
echo ready
while :; do sleep 0.05; done
"#;
    let mut r = launch_single(&["sh", "-c", script]);
    r.out
        .wait_until(WAIT, "ready", |l| l.iter().find(|x| *x == "ready").cloned());
    r.signal(libc::SIGUSR1);
    r.out
        .wait_until(WAIT, "got-USR1", |l| l.iter().find(|x| *x == "got-USR1").cloned());
    r.signal(libc::SIGINT);
    assert_eq!(r.wait_exit(WAIT), 7, "{:?}", r.lines());
}

#[test]
fn pid1_reaps_orphans_no_zombie_left() {
    require!(Need::PidNamespaces);
    // The child double-forks 50 short-lived orphans, then waits; while it
    // waits, every orphan must be reaped by rinit (no Z state in the ns).
    let script = r#"
i=0
while [ $i -lt 50 ]; do ( sleep 0.1 & ) ; i=$((i+1)); done
echo spawned-orphans
sleep 1000
"#;
    let r = launch_single(&["sh", "-c", script]);
    r.out.wait_until(WAIT, "orphans spawned", |l| {
        l.iter().find(|x| *x == "spawned-orphans").cloned()
    });
    // All orphans are gone (reaped, not zombies) within a short time.
    poll(WAIT, "orphans to be reaped", || {
        let procs = r.ns_procs();
        let zombies: Vec<_> = procs
            .iter()
            .filter(|(h, _)| read_proc(*h).is_some_and(|p| p.state == 'Z'))
            .collect();
        let sleeps = procs
            .iter()
            .filter(|(h, _)| read_proc(*h).is_some_and(|p| p.comm == "sleep"))
            .count();
        (zombies.is_empty() && sleeps == 1).then_some(())
    });
}

#[test]
fn signals_32_and_33_are_forwarded_not_fatal_to_rinit() {
    // Linux signals 32 and 33 are catchable (libcs reserve them for their
    // own threads, which is why the python recorder cannot trap them). The
    // child here keeps their default action, so a forwarded one ends it and
    // rinit exits 128+N; rinit itself must not die of them.
    for sig in [32, 33] {
        let mut s = Single::start(&["sleep", "30"]);
        let kid = poll(WAIT, "rinit's child", || children(s.pid()).first().copied());
        s.pgid = Some(kid);
        poll(WAIT, "the child to exec sleep", || {
            read_proc(kid).filter(|p| p.comm == "sleep")
        });
        kill(s.pid(), sig);
        let deadline = Instant::now() + Duration::from_secs(3);
        let st = loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "signal {sig} was neither forwarded to the child nor fatal to rinit (rinit SigIgn {:?}, SigBlk {:?})",
                status_field(s.pid(), "SigIgn"),
                status_field(s.pid(), "SigBlk")
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(
            st.code(),
            Some(128 + sig),
            "signal {sig}: rinit ended with {st} (expected the child's 128+{sig})"
        );
    }
}

#[test]
fn orphans_are_reaped_when_not_pid1() {
    // Not PID 1, rinit is a child subreaper: a double-forked orphan comes
    // back to it and must not stay a zombie.
    let mut s = Single::start(&[
        "sh",
        "-c",
        "( sleep 0.2 & echo orphan=$! ); echo spawned; sleep 1.5",
    ]);
    let orphan: i32 = s.out.wait_until(WAIT, "the orphan", |l| {
        l.iter()
            .find_map(|x| x.strip_prefix("orphan=").and_then(|p| p.parse().ok()))
    });
    let kid = poll(WAIT, "rinit's child", || children(s.pid()).first().copied());
    s.pgid = Some(kid);
    poll(WAIT, "the orphan to be re-parented to rinit", || {
        match read_proc(orphan) {
            None => Some(()), // already reaped
            Some(p) => (p.ppid == s.pid() && p.state != 'Z').then_some(()),
        }
    });
    poll(Duration::from_secs(2), "the orphan to be reaped", || {
        read_proc(orphan).is_none().then_some(())
    });
    assert_eq!(s.wait_exit(WAIT), 0);
}

#[test]
fn on_a_tty_the_childs_group_is_the_foreground_group() {
    require!(Need::Cmd("python3"));
    // /proc/PID/stat fields 5 and 8: pgrp and tpgid (the terminal's
    // foreground group). `sh` has no space in its name, so fields split.
    let ptyrun = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runtime/ptyrun.py");
    let out = Command::new("python3")
        .args([ptyrun, BIN, "--", "sh", "-c", "read -r a b c d pgrp f g tpgid rest < /proc/$$/stat; echo \"pid=$$ pgrp=$pgrp tpgid=$tpgid\"; exit 5"])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("pid="))
        .unwrap_or_else(|| panic!("{text}"));
    let v: Vec<&str> = line.split(' ').map(|kv| kv.split('=').nth(1).unwrap()).collect();
    assert_eq!(v[1], v[0], "the child leads its own process group: {line}");
    assert_eq!(
        v[2], v[0],
        "the child's group is the terminal's foreground group: {line}"
    );
}

#[test]
fn pid1_with_a_dirty_launcher_still_forwards_term_and_child_state_is_clean() {
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    // rinit inherits every signal blocked and ignored (and fds 3, 9): it
    // must still receive and forward TERM, and its child must start clean.
    let a = vec![
        "--".to_string(),
        "sh".into(),
        "-c".into(),
        TERM_TRAPPING_PARENT.into(),
    ];
    let inner = [
        "python3",
        DIRTY_EXEC,
        "--block-all",
        "--ignore-all",
        "--extra-fds",
        "--",
    ]
    .map(String::from)
    .to_vec();
    let mut r = Rinit::launch(Launch {
        inner_prefix: inner,
        rinit_args: a,
        ..Launch::default()
    });
    let gc = r.host_of(grandchild(&r.out));
    poll(WAIT, "the grandchild to exec sleep", || {
        read_proc(gc).filter(|p| p.comm == "sleep")
    });
    // The child (sh); its background grandchild has INT and QUIT ignored by
    // the shell itself (POSIX), so it is not the one to look at.
    let kids = children(r.host_pid);
    assert_eq!(kids.len(), 1, "rinit's children: {kids:?}");
    let c = kids[0];
    assert_eq!(
        status_field(c, "SigBlk").as_deref(),
        Some("0000000000000000"),
        "child SigBlk"
    );
    assert_eq!(
        status_field(c, "SigIgn").as_deref(),
        Some("0000000000000000"),
        "child SigIgn"
    );
    assert_eq!(fds(c), [0, 1, 2].into_iter().collect(), "child fds");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(WAIT), 0, "{:?}", r.lines());
    assert!(
        r.lines().iter().any(|l| l == "grandchild-gone"),
        "{:?}",
        r.lines()
    );
}

#[test]
fn ctrl_z_on_a_terminal_stops_rinit_with_its_child_and_fg_continues_both() {
    // Regression (tini does the same): Ctrl-Z stopped the child, rinit kept
    // waiting, and the shell never got its terminal back.
    let jobctl = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runtime/jobctl.py");
    let out = Command::new("python3")
        .args([
            jobctl,
            BIN,
            "--",
            "sh",
            "-c",
            "echo ready; read line; echo got:$line; exit 4",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the shell never regained the terminal:\n{text}"
    );
    let lines: Vec<&str> = text.lines().map(|l| l.trim_start_matches("^Z")).collect();
    assert_eq!(
        lines,
        [
            "ready",
            "shell: job stopped by SIGTSTP",
            "hello",
            "got:hello",
            "shell: job exited 4"
        ],
        "{text}"
    );
}

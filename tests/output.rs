//! Program output and rinit's own output (issue 11, issue 9 items 4 and 9):
//! rinit as PID 1 of a fresh namespace (see `common`).

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.display().to_string()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// `cat FIFO > OUT` on the host: the consumer of rinit's stdout, which the
/// test pauses (SIGSTOP) to stall it.
fn consumer(fifo: &Path, out: &Path) -> Child {
    Command::new("sh")
        .args([
            "-c",
            &format!("exec cat '{}' > '{}'", fifo.display(), out.display()),
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("start cat")
}

/// rinit as PID 1 with its stdout (and stderr) the FIFO.
fn start_on_fifo(dir: &TempDir, conf: &str, fifo: &Path) -> Rinit {
    Rinit::launch(Launch {
        inner_prefix: vec![
            "sh".into(),
            "-c".into(),
            format!("exec \"$0\" \"$@\" >'{}' 2>&1", fifo.display()),
        ],
        rinit_args: Rinit::conf_args(dir, conf),
        ..Launch::default()
    })
}

fn zombies(r: &Rinit) -> usize {
    r.ns_procs()
        .iter()
        .filter(|(h, _)| read_proc(*h).is_some_and(|p| p.state == 'Z'))
        .count()
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

/// Seconds since midnight of an activity-log line's timestamp.
fn stamp(line: &str) -> f64 {
    let t = &line[11..23];
    let h: f64 = t[0..2].parse().unwrap();
    let m: f64 = t[3..5].parse().unwrap();
    let s: f64 = t[6..8].parse().unwrap();
    let ms: f64 = t[9..12].parse().unwrap();
    h * 3600.0 + m * 60.0 + s + ms / 1000.0
}

/// Issue 11 item 1: a stalled stdout consumer froze PID 1 (53 zombies after
/// 3 s, SIGTERM ignored). Now rinit keeps reaping, restarting and obeying
/// signals, drops whole lines when its queue is full and says so once the
/// consumer drains; AUTO children share the stalled pipe and never see EAGAIN.
#[test]
fn stalled_stdout_does_not_stop_pid1() {
    require!(Need::PidNamespaces);
    let _g = serial();
    let d = TempDir::new("stall");
    let fifo = d.join("out.fifo");
    mkfifo(&fifo);
    let out = d.join("out.txt");
    let mut cat = consumer(&fifo, &out);
    let stop = d.join("STOP");
    let eagain = d.join("eagain");
    let conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile={log}\nlogfile_maxbytes=0\npidfile={pid}\n\
         [program:orphans]\ncommand=sh -c 'while [ ! -e {stop} ]; do (exit 0 &); done; exec sleep 3600'\n\
         startsecs=0\n\
         [program:crashy]\ncommand=sh -c 'sleep 0.3; exit 3'\nstartsecs=0\nautorestart=true\n\
         [program:chatty]\ncommand=sh -c 'while :; do echo tick-tick-tick-tick || echo FAIL >> {eagain}; done'\n\
         [program:pfx]\ncommand=sh -c 'while :; do printf pfx-; echo pfx-pfx; done'\noutput_prefix=true\n",
        log = d.join("rinit.log").display(),
        pid = d.join("p.pid").display(),
        stop = stop.display(),
        eagain = eagain.display(),
    );
    let mut r = start_on_fifo(&d, &conf, &fifo);
    // The consumer stalls as soon as everything runs.
    poll(WAIT, "chatty to start", || {
        read(&d.join("rinit.log"))
            .contains("spawned: 'chatty'")
            .then_some(())
    });
    kill(cat.id() as i32, libc::SIGSTOP);
    let stall_start = Instant::now();
    // 30 s of orphans and a crash loop while nobody reads rinit's stdout.
    std::thread::sleep(secs(30));
    std::fs::write(&stop, "").unwrap();
    let log = read(&d.join("rinit.log"));
    let reaped = log.matches("INFO reaped unknown pid").count();
    assert!(reaped >= 1000, "only {reaped} orphans reaped during the stall");
    // Restarts kept their pace during the stall (1-s guard, no backoff
    // after RUNNING): no gap over 3 s between two spawns of crashy.
    let spawns: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("INFO spawned: 'crashy'"))
        .map(stamp)
        .collect();
    assert!(
        spawns.len() >= 15,
        "crashy restarted {} times in 30 s",
        spawns.len()
    );
    for w in spawns.windows(2) {
        assert!(w[1] - w[0] < 3.0, "crashy restart gap {:.3} s", w[1] - w[0]);
    }
    // Zero zombies once the orphans stop coming (rinit reaps what is left).
    poll(secs(5), "no zombie in the namespace", || {
        (zombies(&r) == 0).then_some(())
    });
    // The shared stdout was never made non-blocking for the children.
    let ns_chatty = log
        .lines()
        .rev()
        .find_map(|l| l.split("INFO spawned: 'chatty' with pid ").nth(1))
        .map(|n| n.trim().parse().unwrap())
        .unwrap();
    let chatty = r.host_of(ns_chatty);
    let fdinfo = std::fs::read_to_string(format!("/proc/{chatty}/fdinfo/1")).unwrap();
    let flags = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|v| i64::from_str_radix(v.trim(), 8).unwrap())
        .unwrap();
    assert_eq!(flags & libc::O_NONBLOCK as i64, 0, "child's stdout is O_NONBLOCK");
    // Drain: the notice says how many lines were dropped and why.
    kill(cat.id() as i32, libc::SIGCONT);
    poll(secs(20), "the dropped-lines notice", || {
        read(&out).contains("WARN dropped ").then_some(())
    });
    let text = read(&out);
    let notice = text.lines().find(|l| l.contains("WARN dropped ")).unwrap();
    assert!(
        matches(
            "WARN dropped {N} line(s) ({N} bytes) of output: stdout was not being read fast enough",
            &notice[24..]
        ),
        "{notice}"
    );
    assert!(
        !eagain.exists(),
        "an AUTO child saw a write error: {}",
        read(&eagain)
    );
    // The prefixed program was throttled by its pipe, never mixed with
    // another's bytes (a partial line may be flushed on its own).
    let pfx: Vec<&str> = text.lines().filter(|l| l.starts_with("pfx")).collect();
    assert!(!pfx.is_empty());
    for l in pfx {
        assert!(
            l.starts_with("pfx | ") && l[6..].split('-').all(|w| w == "pfx" || w.is_empty()),
            "{l:?}"
        );
    }
    // Stall again, then SIGTERM: rinit shuts down within 1 s anyway.
    kill(cat.id() as i32, libc::SIGSTOP);
    std::thread::sleep(secs(2));
    let t = Instant::now();
    r.signal(libc::SIGTERM);
    let code = r.wait_exit(secs(10));
    let took = t.elapsed();
    assert_eq!(code, 0);
    assert!(took < secs(1), "SIGTERM took {took:?} with stdout stalled");
    assert!(stall_start.elapsed() > secs(30));
    kill(cat.id() as i32, libc::SIGCONT);
    let _ = cat.kill();
    let _ = cat.wait();
}

/// Issue 9 item 4: `logfile_maxbytes=1KB` with `logfile_backups=4294967295`
/// froze PID 1 at the first rotation (one `exists()` per possible backup).
#[test]
fn activity_log_rotation_with_huge_backups_does_not_freeze_pid1() {
    require!(Need::PidNamespaces);
    let d = TempDir::new("hugebackups");
    let log = d.join("rinit.log");
    let conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile={}\nlogfile_maxbytes=1KB\nlogfile_backups=4294967295\n\
         pidfile={}\n[program:crashy]\ncommand=sh -c 'exit 3'\nstartsecs=0\nautorestart=true\n",
        log.display(),
        d.join("p.pid").display()
    );
    let mut r = Rinit::start(&d, &conf);
    // Each restart logs two records: 1 KB is reached within a few restarts.
    let backup = |n: u32| std::path::PathBuf::from(format!("{}.{n}", log.display()));
    poll(secs(20), "three rotations", || backup(3).exists().then_some(()));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(5)), 0);
    assert!(backup(1).exists() && backup(2).exists());
    let size = std::fs::metadata(backup(1)).unwrap().len();
    assert!((1024..1200).contains(&size), "rotated at {size} bytes");
}

/// rinit started with umask 000 (the shell's, inherited).
fn start_umask0(dir: &TempDir, conf: &str) -> Rinit {
    Rinit::launch(Launch {
        inner_prefix: vec!["sh".into(), "-c".into(), "umask 000; exec \"$0\" \"$@\"".into()],
        rinit_args: Rinit::conf_args(dir, conf),
        ..Launch::default()
    })
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// Issue 9 item 9: a `user=nobody` program's log file, the pidfile and the
/// activity log followed a symlink planted by another user in a sticky,
/// world-writable directory (appending to / truncating a root-owned 0600
/// file), and `umask=000` made the pidfile 0666. The kernel's
/// `fs.protected_symlinks` hides this only where it is on; rinit applies the
/// rule itself (this host's setting is printed on failure).
#[test]
fn planted_symlinks_in_sticky_dirs_are_not_followed_and_files_are_0644() {
    require!(Need::PidNamespaces);
    use std::os::unix::fs::{lchown, symlink, PermissionsExt};
    let d = TempDir::new("sticky");
    let shared = d.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let protected = std::fs::read_to_string("/proc/sys/fs/protected_symlinks").unwrap_or_default();
    let mut secrets = Vec::new();
    for name in ["prog.log", "rinit.pid", "rinit.log"] {
        let secret = d.join(&format!("secret-{name}"));
        std::fs::write(&secret, "root only\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = shared.join(name);
        symlink(&secret, &link).unwrap();
        lchown(&link, Some(65534), Some(65534)).unwrap();
        secrets.push(secret);
    }
    let own = d.join("own");
    std::fs::create_dir(&own).unwrap();
    let conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile={s}/rinit.log\npidfile={s}/rinit.pid\n\
         [program:victim]\ncommand=sh -c 'echo planted; exec sleep 3600'\nuser=nobody\n\
         stdout_logfile={s}/prog.log\nstdout_logfile_maxbytes=0\n\
         [program:fine]\ncommand=sh -c 'echo fine; exec sleep 3600'\numask=000\n\
         stdout_logfile={o}/fine.log\nstdout_logfile_maxbytes=0\n\
         [program:passthru]\ncommand=sh -c 'echo via-dev-stdout; exec sleep 3600'\n\
         stdout_logfile=/dev/stdout\n",
        s = shared.display(),
        o = own.display()
    );
    let mut r = start_umask0(&d, &conf);
    // The program runs anyway, its output on rinit's stdout (issue 11).
    r.wait_rec(
        &format!(
            "WARN unknown error making dispatchers for 'victim': EACCES (stdout_logfile {}/prog.log); \
             that output goes to rinit's stdout instead",
            shared.display()
        ),
        WAIT,
    );
    r.wait_output(|l| l == "planted", "victim's output on rinit's stdout", WAIT);
    r.wait_output(|l| l == "via-dev-stdout", "/dev/stdout output", WAIT);
    r.wait_rec("CRIT could not write pidfile {*}", WAIT);
    poll(WAIT, "fine.log", || {
        (read(&own.join("fine.log")) == "fine\n").then_some(())
    });
    assert_eq!(mode_of(&own.join("fine.log")), 0o644, "umask=000 must not matter");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
    for s in &secrets {
        assert_eq!(
            read(s),
            "root only\n",
            "{} was written through a planted symlink (fs.protected_symlinks={})",
            s.display(),
            protected.trim()
        );
    }
    let text = r.lines().join("\n");
    assert!(text.contains("could not open log file"), "{text}");
}

/// `umask=000`: the pidfile and the activity log are still created 0644.
#[test]
fn pidfile_and_activity_log_are_0644_whatever_the_umask() {
    require!(Need::PidNamespaces);
    let d = TempDir::new("umask");
    let conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile={}\npidfile={}\n\
         [program:x]\ncommand=sleep 3600\n",
        d.join("a.log").display(),
        d.join("p.pid").display()
    );
    let mut r = start_umask0(&d, &conf);
    r.wait_rec(
        "INFO success: x entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        WAIT,
    );
    assert_eq!(mode_of(&d.join("p.pid")), 0o644);
    assert_eq!(mode_of(&d.join("a.log")), 0o644);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

/// Issue 11 item 4: four programs writing interleaved partial lines with
/// `output_prefix` on: every output line holds one program's bytes, after
/// its own (aligned) prefix, and no byte is lost.
#[test]
fn prefixed_output_never_mixes_two_programs_in_one_line() {
    require!(Need::PidNamespaces);
    let d = TempDir::new("prefix");
    let mut programs = String::new();
    for k in 1..=4 {
        // Each line is written in three pieces; the four programs race.
        programs.push_str(&format!(
            "[program:p{k}{pad}]\ncommand=sh -c 'i=0; while [ $i -lt 300 ]; do printf {k}{k}{k}; printf {k}{k}{k}{k}; echo {k}{k}{k}; i=$((i+1)); done; printf {k}{k}'\n\
             startsecs=0\nautorestart=false\n",
            pad = if k == 4 { "long" } else { "" }
        ));
    }
    let conf = config(&d, "output_prefix=true", &programs);
    let mut r = Rinit::start(&d, &conf);
    assert_eq!(r.wait_exit(secs(30)), 0);
    let lines = r.out.stream(Stream::Out);
    let mut digits = [0usize; 5];
    for l in &lines {
        if parse_rec(l).is_some() {
            continue;
        }
        let (name, body) = l.split_once(" | ").unwrap_or_else(|| panic!("no prefix: {l:?}"));
        let k: usize = name
            .trim_end()
            .trim_start_matches('p')
            .trim_end_matches("long")
            .parse()
            .unwrap();
        // Names are padded to the longest ("p4long").
        assert_eq!(name.len(), 6, "{l:?}");
        let want = char::from(b'0' + k as u8);
        assert!(
            !body.is_empty() && body.chars().all(|c| c == want),
            "mixed line {l:?}"
        );
        digits[k] += body.len();
    }
    for (k, n) in digits.iter().enumerate().skip(1) {
        assert_eq!(*n, 300 * 10 + 2, "bytes of p{k}");
    }
}

/// Issue 11 item 3: with `stdout_logfile_maxbytes` > 0 rinit writes the
/// file itself; logrotate's `create` mode (rename, then USR2) and its
/// `copytruncate` mode both keep every line, in order, with no hole.
#[test]
fn usr2_and_logrotate_create_and_copytruncate_lose_no_line() {
    require!(Need::PidNamespaces, Need::Cmd("logrotate"));
    for mode in ["create", "copytruncate"] {
        let d = TempDir::new(mode);
        let log = d.join("app.log");
        let go = d.join("go");
        // Bursts of 100 lines, each started by the test, so that logrotate
        // runs between bursts (copytruncate has an unavoidable window
        // otherwise, rinit or not).
        let conf = config(
            &d,
            "",
            &format!(
                "[program:app]\ncommand=sh -c 'n=0; b=0; while [ $b -lt 5 ]; do while [ ! -e {go}.$b ]; do sleep 0.02; done; \
                 i=0; while [ $i -lt 100 ]; do echo line-$n; n=$((n+1)); i=$((i+1)); done; b=$((b+1)); done; exec sleep 3600'\n\
                 stdout_logfile={log}\nstdout_logfile_maxbytes=50MB\nstdout_logfile_backups=10\n",
                go = go.display(),
                log = log.display()
            ),
        );
        let mut r = Rinit::start(&d, &conf);
        r.wait_rec("INFO spawned: 'app' with pid {N}", WAIT);
        let lr_conf = d.write(
            "logrotate.conf",
            &format!(
                "{} {{\n  rotate 10\n  {}\n  postrotate\n    kill -USR2 {}\n  endscript\n}}\n",
                log.display(),
                if mode == "create" {
                    "create 0644 root root"
                } else {
                    "copytruncate"
                },
                r.host_pid
            ),
            false,
        );
        let total_lines = |upto: usize| -> usize {
            let mut n = read(&log).lines().count();
            for i in 1..=upto {
                n += read(&d.join(&format!("app.log.{i}"))).lines().count();
            }
            n
        };
        for b in 0..5 {
            std::fs::write(format!("{}.{b}", go.display()), "").unwrap();
            poll(WAIT, "a burst in the log files", || {
                (total_lines(5) == 100 * (b + 1)).then_some(())
            });
            let st = Command::new("logrotate")
                .args(["-f", "-s"])
                .arg(d.join("lr.state"))
                .arg(&lr_conf)
                .status()
                .expect("logrotate (apt package logrotate)");
            assert!(st.success(), "logrotate failed");
            if mode == "create" {
                r.wait_nth("INFO supervisord logreopen", b + 1, WAIT);
            }
        }
        // Oldest rotated file first: every line once, in order, no NUL hole.
        let mut all = String::new();
        for i in (1..=5).rev() {
            all.push_str(&read(&d.join(&format!("app.log.{i}"))));
        }
        all.push_str(&read(&log));
        assert!(!all.contains('\0'), "{mode}: a hole of NUL bytes");
        for i in 1..=5 {
            let n = read(&d.join(&format!("app.log.{i}"))).lines().count();
            assert_eq!(n, 100, "{mode}: app.log.{i} holds one burst");
        }
        let want: Vec<String> = (0..500).map(|n| format!("line-{n}")).collect();
        let got: Vec<&str> = all.lines().collect();
        assert_eq!(got, want, "{mode}");
        r.signal(libc::SIGTERM);
        assert_eq!(r.wait_exit(secs(15)), 0);
    }
}

/// Issue 11 item 2: pass-through stays zero-copy whatever `_maxbytes` says:
/// AUTO, `/dev/stdout` (default 50MB maxbytes), a character device and a
/// file with `maxbytes=0` are the child's own descriptors, not a pipe to
/// rinit; a rotating file is captured.
#[test]
fn pass_through_streams_are_not_captured() {
    require!(Need::PidNamespaces);
    let d = TempDir::new("passthru");
    let conf = config(
        &d,
        "",
        &format!(
            "[program:auto]\ncommand=sleep 3600\n\
             [program:devstdout]\ncommand=sleep 3600\nstdout_logfile=/dev/stdout\n\
             [program:devnull]\ncommand=sleep 3600\nstdout_logfile=/dev/null\n\
             [program:plain]\ncommand=sleep 3600\nstdout_logfile={p}\nstdout_logfile_maxbytes=0\n\
             [program:rotating]\ncommand=sleep 3600\nstdout_logfile={q}\n",
            p = d.join("plain.log").display(),
            q = d.join("rot.log").display()
        ),
    );
    let mut r = Rinit::start(&d, &conf);
    for n in ["auto", "devstdout", "devnull", "plain", "rotating"] {
        r.wait_rec(&format!("INFO spawned: '{n}' with pid {{N}}"), WAIT);
    }
    let fd1 = |pid: i32| {
        std::fs::read_link(format!("/proc/{pid}/fd/1"))
            .unwrap()
            .display()
            .to_string()
    };
    let rinit_out = fd1(r.host_pid);
    assert_eq!(fd1(r.host_pid_of("auto")), rinit_out);
    assert_eq!(fd1(r.host_pid_of("devstdout")), rinit_out);
    assert_eq!(fd1(r.host_pid_of("devnull")), "/dev/null");
    assert_eq!(
        fd1(r.host_pid_of("plain")),
        d.join("plain.log").display().to_string()
    );
    let rot = fd1(r.host_pid_of("rotating"));
    assert!(rot.starts_with("pipe:") && rot != rinit_out, "{rot}");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

/// A program's stdout and stderr sent to rinit's own stderr and stdout:
/// straight (both to one), swapped (each to the other, so that a `dup2`
/// onto fd 1 would clobber the source of fd 2), and AUTO. Each child ends
/// up with exactly the descriptors asked for, stdin on /dev/null.
#[test]
fn stdio_sources_that_are_rinits_own_fds_are_installed_in_any_order() {
    require!(Need::PidNamespaces);
    let d = TempDir::new("stdio-order");
    let conf = config(
        &d,
        "",
        "[program:auto]\ncommand=sleep 3600\n\
         [program:both_err]\ncommand=sleep 3600\nstdout_logfile=/dev/stderr\nstderr_logfile=/dev/stderr\n\
         [program:swapped]\ncommand=sleep 3600\nstdout_logfile=/dev/stderr\nstderr_logfile=/dev/stdout\n",
    );
    let mut r = Rinit::start(&d, &conf);
    for n in ["auto", "both_err", "swapped"] {
        r.wait_rec(&format!("INFO spawned: '{n}' with pid {{N}}"), WAIT);
    }
    let link = |pid: i32, fd: i32| {
        std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .unwrap()
            .display()
            .to_string()
    };
    let (out, err) = (link(r.host_pid, 1), link(r.host_pid, 2));
    assert_ne!(out, err, "rinit's stdout and stderr must differ for this test");
    for (name, want) in [
        ("auto", [&out, &err]),
        ("both_err", [&err, &err]),
        ("swapped", [&err, &out]),
    ] {
        let pid = r.host_pid_of(name);
        assert_eq!(link(pid, 0), "/dev/null", "{name}");
        assert_eq!([&link(pid, 1), &link(pid, 2)], want, "{name}");
    }
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

/// The WARN line rinit logs for a log file whose directory is missing.
fn missing_dir_line(path: &Path, key: &str, name: &str, to: &str) -> String {
    format!(
        "WARN The directory named as part of the path {} does not exist ({key} of '{name}'); \
         that output goes to rinit's {to} instead",
        path.display()
    )
}

fn opened_line(path: &Path, key: &str, name: &str) -> String {
    format!(
        "INFO opened {key} {} for '{name}': that output goes there again",
        path.display()
    )
}

/// Issue 11: a log file whose directory is missing refused the whole config
/// at PID-1 start-up (supervisord's `The directory named as part of the
/// path … does not exist`): no program ran. Now each program runs, its
/// output on rinit's stdout, with supervisord's text logged once (a crash
/// loop does not repeat it); creating the directory heals the captured file
/// at SIGUSR2 and the pass-through one at the next spawn.
#[test]
fn missing_log_directory_runs_the_program_and_usr2_heals_it() {
    require!(Need::PidNamespaces);
    let d = TempDir::new("missingdir");
    let logs = d.join("logs");
    let (cap, pass) = (logs.join("cap.log"), logs.join("pass.log"));
    let conf = config(
        &d,
        "",
        &format!(
            "[program:cap]\ncommand=sh -c 'i=0; while :; do echo cap-$i; i=$((i+1)); sleep 0.05; done'\n\
             stdout_logfile={cap}\n\
             [program:pass]\ncommand=sh -c 'echo pass-out; sleep 0.3; exit 3'\nstartsecs=0\nautorestart=true\n\
             stdout_logfile={pass}\nstdout_logfile_maxbytes=0\n",
            cap = cap.display(),
            pass = pass.display()
        ),
    );
    let mut r = Rinit::start(&d, &conf);
    let cap_warn = missing_dir_line(&cap, "stdout_logfile", "cap", "stdout");
    let pass_warn = missing_dir_line(&pass, "stdout_logfile", "pass", "stdout");
    r.wait_rec(&cap_warn, WAIT);
    r.wait_rec(
        "INFO success: cap entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        WAIT,
    );
    // Output to rinit's stdout, from both the captured and the pass-through stream.
    let on_stdout = |prefix: &'static str| move |l: &str| l.starts_with(prefix);
    r.wait_output(on_stdout("cap-"), "cap's output on rinit's stdout", WAIT);
    r.wait_output(on_stdout("pass-out"), "pass's output on rinit's stdout", WAIT);
    assert!(r.out.stream(Stream::Out).iter().any(|l| l.starts_with("cap-")));
    // pass crash-loops: three spawns, one WARN.
    r.wait_nth("INFO spawned: 'pass' with pid {N}", 3, WAIT);
    assert_eq!(r.count(&cap_warn), 1);
    assert_eq!(r.count(&pass_warn), 1);
    // The directory appears; SIGUSR2 opens the captured file at once.
    std::fs::create_dir(&logs).unwrap();
    r.signal(libc::SIGUSR2);
    r.wait_rec(&opened_line(&cap, "stdout_logfile", "cap"), WAIT);
    poll(WAIT, "cap's output in its file", || {
        read(&cap).lines().any(|l| l.starts_with("cap-")).then_some(())
    });
    // The pass-through file is the child's own descriptor: its next spawn.
    r.wait_rec(&opened_line(&pass, "stdout_logfile", "pass"), WAIT);
    poll(WAIT, "pass's output in its file", || {
        read(&pass).contains("pass-out\n").then_some(())
    });
    // From then on cap writes only to its file, not to rinit's stdout.
    let before = r
        .out
        .stream(Stream::Out)
        .iter()
        .filter(|l| l.starts_with("cap-"))
        .count();
    let in_file = read(&cap).lines().count();
    poll(WAIT, "more lines in cap's file", || {
        (read(&cap).lines().count() > in_file + 5).then_some(())
    });
    let after = r
        .out
        .stream(Stream::Out)
        .iter()
        .filter(|l| l.starts_with("cap-"))
        .count();
    assert_eq!(before, after, "cap's output still reaches rinit's stdout");
    r.signal(libc::SIGTERM);
    r.wait_exit(secs(15));
    assert_eq!(r.count(&cap_warn), 1);
    assert_eq!(r.count(&pass_warn), 1);
    assert_eq!(r.count("INFO spawnerr: {*}"), 0);
}

/// Issue 11: a log file that cannot be created (a read-only directory:
/// EACCES) made the spawn fail (supervisord's `spawnerr: unknown error
/// making dispatchers`), BACKOFF, then FATAL. Now the program runs, its
/// stdout and stderr on rinit's stdout and stderr, with one WARN line each;
/// `chmod` and SIGUSR2 heal the captured file. rinit opens log files itself
/// (as supervisord does), so `user=` would not matter: rinit runs as root
/// without CAP_DAC_OVERRIDE, which makes the directory's mode bits count.
#[test]
fn unwritable_log_directory_runs_the_program_and_usr2_heals_it() {
    require!(Need::PidNamespaces, Need::Cmd("setpriv"));
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new("rodir");
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let (out, err) = (ro.join("w.log"), ro.join("w.err"));
    let conf = config(
        &d,
        "",
        &format!(
            "[program:w]\ncommand=sh -c 'i=0; while :; do echo w-out-$i; echo w-err-$i >&2; i=$((i+1)); sleep 0.05; done'\n\
             stdout_logfile={out}\nstderr_logfile={err}\nstderr_logfile_maxbytes=0\n",
            out = out.display(),
            err = err.display()
        ),
    );
    let mut r = Rinit::launch(Launch {
        inner_prefix: [
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search",
            "--",
        ]
        .map(String::from)
        .to_vec(),
        rinit_args: Rinit::conf_args(&d, &conf),
        ..Launch::default()
    });
    let warn = |p: &Path, key: &str, to: &str| {
        format!(
            "WARN unknown error making dispatchers for 'w': EACCES ({key} {}); that output goes to rinit's {to} instead",
            p.display()
        )
    };
    let (out_warn, err_warn) = (
        warn(&out, "stdout_logfile", "stdout"),
        warn(&err, "stderr_logfile", "stderr"),
    );
    r.wait_rec(&out_warn, WAIT);
    r.wait_rec(&err_warn, WAIT);
    r.wait_rec(
        "INFO success: w entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        WAIT,
    );
    poll(WAIT, "w's output on rinit's stdout and stderr", || {
        let o = r.out.stream(Stream::Out).iter().any(|l| l.starts_with("w-out-"));
        let e = r.out.stream(Stream::Err).iter().any(|l| l.starts_with("w-err-"));
        (o && e).then_some(())
    });
    // Still unwritable: SIGUSR2 tries again and says nothing new.
    r.signal(libc::SIGUSR2);
    r.wait_nth("INFO supervisord logreopen", 1, WAIT);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    r.signal(libc::SIGUSR2);
    r.wait_rec(&opened_line(&out, "stdout_logfile", "w"), WAIT);
    poll(WAIT, "w's stdout in its file", || {
        read(&out).lines().any(|l| l.starts_with("w-out-")).then_some(())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
    assert_eq!(r.count(&out_warn), 1);
    assert_eq!(r.count(&err_warn), 1);
    assert_eq!(r.count("INFO spawnerr: {*}"), 0);
    assert_eq!(r.count("INFO gave up: {*}"), 0);
}

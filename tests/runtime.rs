//! rinit as PID 1 in config mode (issue #3): life-cycle log lines, timing,
//! PID-1 duties, child hygiene, shutdown and exit statuses.
//!
//! Every test starts `unshare --pid --fork --mount-proc --kill-child rinit
//! -c CONF` (see `common`), and compares the activity-log lines with
//! supervisord's exact text (docs/state-machine.md). Intervals are measured on
//! the log lines' own timestamps, never on the test's wall clock.

mod common;

use common::*;
use std::time::Duration;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runtime");

fn fixture(name: &str) -> String {
    format!("{FIX}/{name}")
}

/// Start rinit on `[supervisord]` (+ `extra`) and `programs`.
fn start(tag: &str, extra: &str, programs: &str) -> (TempDir, Rinit) {
    let dir = TempDir::new(tag);
    let conf = config(&dir, extra, programs);
    let r = Rinit::start(&dir, &conf);
    (dir, r)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn dump(r: &Rinit) -> String {
    r.lines().join("\n")
}

/// Wait until namespace pid `ns_pid` runs `comm` (its exec is done, so the
/// signal dispositions its script set up are in force).
fn wait_exec(r: &Rinit, ns_pid: i32, comm: &str) {
    let h = r.host_of(ns_pid);
    poll(WAIT, &format!("pid {ns_pid} to exec {comm}"), || {
        read_proc(h).filter(|p| p.comm == comm)
    });
}

/// Stop rinit with SIGTERM and require exit status 0.
fn term_and_expect_0(r: &mut Rinit) {
    r.signal(libc::SIGTERM);
    let code = r.wait_exit(secs(15));
    assert_eq!(code, 0, "rinit's status after SIGTERM:\n{}", dump(r));
}

// ---------------------------------------------------------------------------
// Life-cycle lines
// ---------------------------------------------------------------------------

#[test]
fn start_follows_priority_with_exact_lines() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "prio",
        "",
        "[program:zlast]\ncommand=sleep 1000\n\
         [program:first]\ncommand=sleep 1000\npriority=1\n\
         [program:middle]\ncommand=sleep 1000\npriority=50\n\
         [program:amiddle]\ncommand=sleep 1000\npriority=50\n",
    );
    r.wait_nth("INFO success: {*}", 4, WAIT);
    let s = |n: &str| format!("INFO spawned: '{n}' with pid {{N}}");
    let ok = |n: &str| {
        format!(
            "INFO success: {n} entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
        )
    };
    let expected: Vec<String> = vec![
        "INFO rinit started with pid 1".into(),
        s("first"),
        s("amiddle"),
        s("middle"),
        s("zlast"),
        ok("first"),
        ok("amiddle"),
        ok("middle"),
        ok("zlast"),
    ];
    let exp: Vec<&str> = expected.iter().map(String::as_str).collect();
    let got = assert_sequence(
        &r.lines(),
        &["INFO rinit started{*}", "INFO spawned: {*}", "INFO success: {*}"],
        &exp,
    );
    // No one-second loop: every program is spawned at once, and promoted
    // right when startsecs has passed (docs/design.md).
    assert!(
        got[4].ms - got[1].ms <= 50,
        "spawns spread over {} ms",
        got[4].ms - got[1].ms
    );
    for i in 1..=4 {
        let d = got[i + 4].ms - got[i].ms;
        // startsecs counts from the spawn attempt, just before fork: the
        // `spawned:` line is written a few ms later.
        assert!(
            (990..=1050).contains(&d),
            "{}: success {d} ms after spawned:\n{}",
            got[i].msg,
            dump(&r)
        );
    }
    // docs/design.md: no `Supervisor is running as root` CRIT.
    assert_eq!(r.count("CRIT {*}"), 0, "{}", dump(&r));
    term_and_expect_0(&mut r);
}

/// The pidfile is written once the first programs are forked, not before
/// (docs/design.md, "Start-up"): it holds rinit's pid, a failure to write
/// it is logged after their `spawned:` lines and changes nothing else, and
/// it is removed at exit.
#[test]
fn the_pidfile_is_written_after_the_first_spawn_and_removed_at_exit() {
    require!(Need::PidNamespaces);
    let (d, mut r) = start("pidfile", "", "[program:a]\ncommand=sleep 1000\n");
    r.wait_rec("INFO spawned: 'a' with pid {N}", WAIT);
    let pidfile = d.join("p.pid");
    poll(WAIT, "the pidfile", || {
        std::fs::read_to_string(&pidfile).ok().filter(|t| !t.is_empty())
    });
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), "1\n");
    term_and_expect_0(&mut r);
    assert!(!pidfile.exists(), "the pidfile outlived rinit");

    // A directory where the pidfile should be: EISDIR.
    let dir = TempDir::new("pidfile-is-a-dir");
    std::fs::create_dir(dir.join("p.pid")).unwrap();
    let conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\npidfile={}/p.pid\n\
         [program:a]\ncommand=sleep 1000\n",
        dir.path.display()
    );
    let mut r = Rinit::start(&dir, &conf);
    r.wait_rec("CRIT could not write pidfile {*}", WAIT);
    assert_sequence(
        &r.lines(),
        &[
            "INFO rinit started{*}",
            "INFO spawned: {*}",
            "CRIT could not write pidfile {*}",
        ],
        &[
            "INFO rinit started with pid 1",
            "INFO spawned: 'a' with pid {N}",
            &format!("CRIT could not write pidfile {}/p.pid", dir.path.display()),
        ],
    );
    r.wait_rec(
        "INFO success: a entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        WAIT,
    );
    term_and_expect_0(&mut r);
}

#[test]
fn sigkill_is_logged_not_expected_and_respawned() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start("kill9", "", "[program:victim]\ncommand=sleep 1000\n");
    r.wait_rec("INFO success: victim {*}", WAIT);
    let old = r.ns_pid_of("victim");
    kill(r.host_pid_of("victim"), libc::SIGKILL);
    r.wait_nth("INFO success: victim {*}", 2, WAIT);
    let ok =
        "INFO success: victim entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)";
    let got = assert_sequence(
        &r.lines(),
        &["{*}victim{*}"],
        &[
            "INFO spawned: 'victim' with pid {N}",
            ok,
            "WARN exited: victim (terminated by SIGKILL; not expected)",
            "INFO spawned: 'victim' with pid {N}",
            ok,
        ],
    );
    assert_eq!(
        captures("INFO spawned: 'victim' with pid {N}", &got[0].text()),
        vec![old as i64]
    );
    assert_ne!(r.ns_pid_of("victim"), old);
    // Up for more than a second: the restart from EXITED is immediate.
    let gap = got[3].ms - got[2].ms;
    assert!(gap <= 100, "respawn {gap} ms after the exit:\n{}", dump(&r));
    term_and_expect_0(&mut r);
}

#[test]
fn exit_within_startsecs_backs_off_1_2_3_seconds_then_gives_up() {
    require!(Need::PidNamespaces);
    let _g = serial();
    let (_d, mut r) = start("backoff", "", "[program:flap]\ncommand=sh -c 'exit 0'\n");
    r.wait_rec("INFO gave up: flap {*}", secs(15));
    let sp = "INFO spawned: 'flap' with pid {N}";
    let ex = "WARN exited: flap (exit status 0; not expected)";
    let got = assert_sequence(
        &r.lines(),
        &["{*}flap{*}"],
        &[
            sp,
            ex,
            sp,
            ex,
            sp,
            ex,
            sp,
            ex,
            "INFO gave up: flap entered FATAL state, too many start retries too quickly",
        ],
    );
    for k in 1..=3usize {
        let exited = &got[2 * k - 1];
        let respawn = &got[2 * k];
        let d = respawn.ms - exited.ms;
        let want = 1000 * k as i64;
        assert!(
            (d - want).abs() <= 50,
            "retry {k}: {d} ms after the exit, want {want} ± 50:\n{}",
            dump(&r)
        );
    }
    // FATAL and nothing else left: docs/design.md → status 1.
    assert_eq!(r.wait_exit(WAIT), 1, "{}", dump(&r));
}

#[test]
fn missing_command_is_a_spawnerr_then_fatal() {
    require!(Need::PidNamespaces);
    let _g = serial();
    let (_d, mut r) = start(
        "nocmd",
        "",
        "[program:ghost]\ncommand=/nonexistent/ghost-cmd --flag\nstartretries=1\n\
         [program:ghost2]\ncommand=rinit-test-cmd-not-in-path\nstartretries=0\n",
    );
    r.wait_rec("INFO gave up: ghost {*}", WAIT);
    r.wait_rec("INFO gave up: ghost2 {*}", WAIT);
    let e1 = "INFO spawnerr: can't find command '/nonexistent/ghost-cmd'";
    let got = assert_sequence(
        &r.lines(),
        &["{*}ghost-cmd{*}", "{*}: ghost {*}"],
        &[
            e1,
            e1,
            "INFO gave up: ghost entered FATAL state, too many start retries too quickly",
        ],
    );
    let d = got[1].ms - got[0].ms;
    assert!((d - 1000).abs() <= 50, "retry after {d} ms:\n{}", dump(&r));
    assert_sequence(
        &r.lines(),
        &["{*}rinit-test-cmd-not-in-path{*}", "{*}: ghost2 {*}"],
        &[
            "INFO spawnerr: can't find command 'rinit-test-cmd-not-in-path'",
            "INFO gave up: ghost2 entered FATAL state, too many start retries too quickly",
        ],
    );
    assert_eq!(r.count("INFO spawned: {*}"), 0, "{}", dump(&r));
    assert_eq!(r.wait_exit(WAIT), 1, "all FATAL → status 1:\n{}", dump(&r));
}

#[test]
fn autorestart_by_exitcodes_table() {
    require!(Need::PidNamespaces);
    // docs/state-machine.md: (name, autorestart, exitcodes, exit code, expected?, restarted?)
    let table = [
        ("f_exp", "false", "0", 0, true, false),
        ("f_unexp", "false", "0", 3, false, false),
        ("u_exp", "unexpected", "0", 0, true, false),
        ("u_unexp", "unexpected", "0", 3, false, true),
        ("u_exp3", "unexpected", "0,3", 3, true, false),
        ("u_unexp0", "unexpected", "3", 0, false, true),
        ("t_exp", "true", "0", 0, true, true),
        ("t_unexp", "true", "0", 3, false, true),
    ];
    let mut programs = String::new();
    for (name, ar, codes, code, _, _) in table {
        programs += &format!(
            "[program:{name}]\ncommand=sh -c 'sleep 1.3; exit {code}'\nautorestart={ar}\nexitcodes={codes}\n"
        );
    }
    let (_d, mut r) = start("table", "", &programs);
    for (name, _, _, _, _, restarted) in table {
        r.wait_rec(&format!("{{*}} exited: {name} {{*}}"), WAIT);
        if restarted {
            r.wait_nth(&format!("INFO spawned: '{name}' {{*}}"), 2, WAIT);
        }
    }
    // Give a wrongly restarted program time to show up.
    std::thread::sleep(Duration::from_millis(300));
    for (name, ar, _, code, expected, restarted) in table {
        let line = if expected {
            format!("INFO exited: {name} (exit status {code}; expected)")
        } else {
            format!("WARN exited: {name} (exit status {code}; not expected)")
        };
        let recs = r.recs();
        let first_exit = recs
            .iter()
            .position(|x| matches(&format!("{{*}} exited: {name} {{*}}"), &x.text()))
            .unwrap();
        assert_eq!(recs[first_exit].text(), line, "autorestart={ar}:\n{}", dump(&r));
        let spawns: Vec<&Rec> = recs
            .iter()
            .filter(|x| matches(&format!("INFO spawned: '{name}' {{*}}"), &x.text()))
            .collect();
        assert_eq!(
            spawns.len(),
            if restarted { 2 } else { 1 },
            "{name} (autorestart={ar}):\n{}",
            dump(&r)
        );
        if restarted {
            let gap = spawns[1].ms - recs[first_exit].ms;
            assert!(
                gap <= 100,
                "{name}: respawned {gap} ms after its exit:\n{}",
                dump(&r)
            );
        }
    }
    term_and_expect_0(&mut r);
}

#[test]
fn term_ignoring_program_is_killed_after_stopwaitsecs() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "noterm",
        "",
        "[program:noterm]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\nstopwaitsecs=1\n",
    );
    r.wait_rec("INFO success: noterm {*}", WAIT);
    let pid = r.ns_pid_of("noterm");
    wait_exec(&r, pid, "sleep");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(10)), 0, "{}", dump(&r));
    let kill_line = format!("WARN killing 'noterm' ({pid}) with SIGKILL");
    let got = assert_sequence(
        &r.lines(),
        &["WARN received {*}", "{*}noterm{*}"],
        &[
            "INFO spawned: 'noterm' with pid {N}",
            "INFO success: noterm entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
            "WARN received SIGTERM indicating exit request",
            "INFO waiting for noterm to die",
            &kill_line,
            "WARN stopped: noterm (terminated by SIGKILL)",
        ],
    );
    let d = got[4].ms - got[2].ms;
    assert!(
        (d - 1000).abs() <= 100,
        "SIGKILL {d} ms after the stop, stopwaitsecs=1:\n{}",
        dump(&r)
    );
}

#[test]
fn orphan_is_reaped_and_logged_as_unknown_pid() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "orphan",
        "",
        &format!(
            "[program:keeper]\ncommand=sleep 1000\n\
             [program:parent]\ncommand={}\nstartsecs=0\nautorestart=false\n",
            fixture("orphan.sh")
        ),
    );
    let line = r.wait_output(|l| l.starts_with("orphan="), "the orphan's pid", WAIT);
    let pid: i32 = line["orphan=".len()..].parse().unwrap();
    let want = format!("INFO reaped unknown pid {pid} (exit status 7)");
    r.wait_rec(&want, WAIT);
    assert_sequence(
        &r.lines(),
        &["{*}parent{*}", "INFO reaped {*}"],
        &[
            "INFO spawned: 'parent' with pid {N}",
            "INFO success: parent entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)",
            "INFO exited: parent (exit status 0; expected)",
            &want,
        ],
    );
    term_and_expect_0(&mut r);
}

// ---------------------------------------------------------------------------
// PID 1 duties and child hygiene
// ---------------------------------------------------------------------------

#[test]
fn no_zombie_left_after_a_burst_of_1000_orphans() {
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    let _g = serial();
    let (_d, mut r) = start(
        "burst",
        "",
        &format!(
            "[program:keeper]\ncommand=sleep 1000\n\
             [program:burst]\ncommand=python3 {} 1000\nstartsecs=0\nautorestart=false\n",
            fixture("burst.py")
        ),
    );
    r.wait_output(|l| l == "burst started 1000", "the burst", secs(30));
    r.wait_nth("INFO reaped unknown pid {N} (exit status 0)", 1000, secs(30));
    // Nothing but rinit and the keeper is left, and no zombie.
    poll(secs(5), "the namespace to hold only rinit and the keeper", || {
        let procs: Vec<Proc> = r.ns_procs().iter().filter_map(|(h, _)| read_proc(*h)).collect();
        let zombies: Vec<&Proc> = procs.iter().filter(|p| p.state == 'Z').collect();
        assert!(zombies.is_empty() || procs.len() > 2, "zombies: {zombies:?}");
        (procs.len() == 2 && zombies.is_empty()).then_some(())
    });
    assert_eq!(
        r.count("INFO reaped unknown pid {N} ({*})"),
        1000,
        "exactly the orphans were reaped"
    );
    term_and_expect_0(&mut r);
}

/// Start rinit through the dirty launcher (as PID 1, exec'd by python).
fn start_dirty(tag: &str, opts: &[&str], programs: &str) -> (TempDir, Rinit) {
    let dir = TempDir::new(tag);
    let conf = config(&dir, "", programs);
    let mut inner: Vec<String> = vec!["python3".into(), DIRTY_EXEC.into()];
    inner.extend(opts.iter().map(|s| s.to_string()));
    inner.push("--".into());
    let r = Rinit::launch(Launch {
        inner_prefix: inner,
        rinit_args: Rinit::conf_args(&dir, &conf),
        ..Launch::default()
    });
    (dir, r)
}

#[test]
fn child_has_empty_signal_mask_and_no_ignored_signals() {
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    // The launcher really hands a dirty state to what it execs.
    let out = std::process::Command::new("python3")
        .args([
            DIRTY_EXEC,
            "--block-all",
            "--ignore-all",
            "--",
            "/bin/grep",
            "-E",
            "^Sig(Blk|Ign)",
            "/proc/self/status",
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SigBlk:\tfffffffffffbfeff") && text.contains("SigIgn:\tfffffffffffbfaff"),
        "dirty_exec.py did not block/ignore every signal: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_d, mut r) = start_dirty(
        "sigs",
        &["--block-all", "--ignore-all"],
        "[program:plain]\ncommand=sleep 1000\n",
    );
    r.wait_rec("INFO spawned: 'plain' {*}", WAIT);
    let h = r.host_pid_of("plain");
    poll(WAIT, "the child to exec sleep", || {
        read_proc(h).filter(|p| p.comm == "sleep")
    });
    let blk = status_field(h, "SigBlk").unwrap();
    let ign = status_field(h, "SigIgn").unwrap();
    assert_eq!(
        (blk.as_str(), ign.as_str()),
        ("0000000000000000", "0000000000000000"),
        "child SigBlk/SigIgn when rinit was started with every signal blocked and ignored"
    );
    term_and_expect_0(&mut r);
}

/// Whether `pid` is blocked in nanosleep or clock_nanosleep (x86_64 numbers
/// 35 and 230), from /proc/PID/syscall.
fn in_sleep_syscall(pid: i32) -> bool {
    let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    matches!(text.split_whitespace().next(), Some("35" | "230"))
}

/// Regression: the test read the child's fds as soon as its name was
/// "sleep", and caught the dynamic loader's fd 3 (2 of 4 runs under load).
#[test]
fn child_has_only_fds_0_1_2_when_rinit_inherited_more() {
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    // The launcher really hands fds 3 and 9 to what it execs.
    let out = std::process::Command::new("python3")
        .args([DIRTY_EXEC, "--extra-fds", "--", "/bin/ls", "/proc/self/fd"])
        .output()
        .expect("python3");
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert!(
        listed.contains(&"3".to_string()) && listed.contains(&"9".to_string()),
        "launcher fds: {listed:?}"
    );
    let (_d, mut r) = start_dirty("fds", &["--extra-fds"], "[program:plain]\ncommand=sleep 1000\n");
    r.wait_rec("INFO spawned: 'plain' {*}", WAIT);
    let h = r.host_pid_of("plain");
    // Settled in its sleep, not merely exec'd: while the dynamic loader runs
    // (comm is already "sleep") it holds the library it maps as fd 3.
    poll(WAIT, "the child to sleep in sleep(1)", || {
        read_proc(h).filter(|p| p.comm == "sleep" && in_sleep_syscall(h))
    });
    let got = fds(h);
    assert_eq!(
        got,
        [0, 1, 2].into_iter().collect(),
        "child fds (rinit has {:?})",
        fds(r.host_pid)
    );
    term_and_expect_0(&mut r);
}

#[test]
fn user_nobody_gets_uid_gid_and_supplementary_groups() {
    require!(Need::PidNamespaces);
    let (uid, gid, groups) = passwd_entry("nobody");
    let (_d, mut r) = start(
        "user",
        "",
        "[program:asnobody]\ncommand=sleep 1000\nuser=nobody\n",
    );
    r.wait_rec("INFO spawned: 'asnobody' {*}", WAIT);
    let h = r.host_pid_of("asnobody");
    poll(WAIT, "the child to exec sleep", || {
        read_proc(h).filter(|p| p.comm == "sleep")
    });
    let ids = |k: &str| -> Vec<u32> {
        status_field(h, k)
            .unwrap()
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect()
    };
    assert_eq!(ids("Uid"), vec![uid; 4], "real, effective, saved, fs uid");
    assert_eq!(ids("Gid"), vec![gid; 4], "real, effective, saved, fs gid");
    let got: std::collections::BTreeSet<u32> = ids("Groups").into_iter().collect();
    assert_eq!(
        got, groups,
        "supplementary groups (from /etc/group, primary gid included)"
    );
    term_and_expect_0(&mut r);
}

// ---------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------

#[test]
fn shutdown_stops_in_descending_priority() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "stoporder",
        "loglevel=debug",
        "[program:p1]\ncommand=sleep 1000\npriority=1\n\
         [program:p2]\ncommand=sleep 1000\npriority=2\n\
         [program:p3]\ncommand=sleep 1000\npriority=3\n",
    );
    r.wait_nth("INFO success: {*}", 3, WAIT);
    let k = |n: &str| {
        format!(
            "DEBG killing {n} (pid {}) process group with signal SIGTERM",
            r.ns_pid_of(n)
        )
    };
    let (k1, k2, k3) = (k("p1"), k("p2"), k("p3"));
    term_and_expect_0(&mut r);
    assert_sequence(
        &r.lines(),
        &[
            "DEBG killing {*}",
            "{*} stopped: {*}",
            "INFO waiting for {*}",
            "WARN received {*}",
        ],
        &[
            "WARN received SIGTERM indicating exit request",
            &k3,
            "INFO waiting for p1, p2, p3 to die",
            "WARN stopped: p3 (terminated by SIGTERM)",
            &k2,
            "WARN stopped: p2 (terminated by SIGTERM)",
            &k1,
            "WARN stopped: p1 (terminated by SIGTERM)",
        ],
    );
}

#[test]
fn equal_priorities_stop_concurrently() {
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    let cmd = format!("python3 {} 1", fixture("slowstop.py"));
    let (_d, mut r) = start(
        "concurrent",
        "",
        &format!(
            "[program:slow1]\ncommand={cmd}\npriority=5\n\
             [program:slow2]\ncommand={cmd}\npriority=5\n"
        ),
    );
    r.out.wait_until(WAIT, "both programs ready", |l| {
        (l.iter().filter(|x| *x == "slowstop ready").count() == 2).then_some(())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", dump(&r));
    let got = assert_sequence(
        &r.lines(),
        &["WARN received {*}", "{*} stopped: {*}"],
        &[
            "WARN received SIGTERM indicating exit request",
            "INFO stopped: slow{N} (exit status 0)",
            "INFO stopped: slow{N} (exit status 0)",
        ],
    );
    for rec in &got[1..] {
        let d = rec.ms - got[0].ms;
        // Each takes ~1 s to stop: one after the other would be ≥ 2 s.
        assert!(
            (900..1800).contains(&d),
            "{} {d} ms after SIGTERM:\n{}",
            rec.msg,
            dump(&r)
        );
    }
}

#[test]
fn shutdown_stops_a_wrappers_children_too() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "wrapper",
        "",
        &format!("[program:wrapper]\ncommand={}\n", fixture("wrapper.sh")),
    );
    let line = r.wait_output(|l| l.starts_with("wrapper child="), "the wrapper's child", WAIT);
    let child: i32 = line["wrapper child=".len()..].parse().unwrap();
    r.wait_rec("INFO success: wrapper {*}", WAIT);
    let host_child = r.host_of(child);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(10)), 0, "{}", dump(&r));
    // The child got the stop signal (a chance to clean up) and was reaped by
    // rinit, instead of being SIGKILLed by the kernel when PID 1 exited.
    let reaped = format!("INFO reaped unknown pid {child} (terminated by SIGTERM)");
    assert_sequence(
        &r.lines(),
        &["WARN received {*}", "{*} stopped: {*}", "INFO reaped {*}"],
        &[
            "WARN received SIGTERM indicating exit request",
            "WARN stopped: wrapper (terminated by SIGTERM)",
            &reaped,
        ],
    );
    assert!(
        read_proc(host_child).is_none(),
        "the wrapper's child is still alive"
    );
    assert!(
        r.ns_procs().is_empty(),
        "processes left in the namespace: {:?}",
        r.ns_procs()
    );
}

/// A `sleep 1000` keeper plus `programs`; returns rinit's exit status.
fn shutdown_on_run(tag: &str, programs: &str) -> (Rinit, TempDir, i32) {
    let (d, mut r) = start(
        tag,
        "",
        &format!("[program:keeper]\ncommand=sleep 1000\nstartsecs=0\npriority=1\n{programs}"),
    );
    let code = r.wait_exit(secs(15));
    (r, d, code)
}

#[test]
fn shutdown_on_never_keeps_running() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "son-never",
        "",
        "[program:keeper]\ncommand=sleep 1000\n\
         [program:quitter]\ncommand=sh -c 'sleep 1.2; exit 3'\nautorestart=false\nshutdown_on=never\n",
    );
    r.wait_rec("WARN exited: quitter (exit status 3; not expected)", WAIT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        r.running(),
        "rinit ended although shutdown_on=never:\n{}",
        dump(&r)
    );
    assert_eq!(r.count("{*} stopped: keeper {*}"), 0, "{}", dump(&r));
    term_and_expect_0(&mut r);
}

#[test]
fn shutdown_on_fatal_exits_with_the_programs_status() {
    require!(Need::PidNamespaces);
    let (r, _d, code) = shutdown_on_run(
        "son-fatal",
        "[program:crasher]\ncommand=sh -c 'exit 4'\nstartretries=0\nshutdown_on=fatal\n",
    );
    assert_eq!(code, 4, "{}", dump(&r));
    assert_sequence(
        &r.lines(),
        &["{*}'crasher'{*}", "{*}: crasher {*}", "{*} stopped: {*}"],
        &[
            "INFO spawned: 'crasher' with pid {N}",
            "WARN exited: crasher (exit status 4; not expected)",
            "INFO gave up: crasher entered FATAL state, too many start retries too quickly",
            "WARN stopped: keeper (terminated by SIGTERM)",
        ],
    );
}

#[test]
fn shutdown_on_fatal_after_spawnerr_exits_127() {
    require!(Need::PidNamespaces);
    let (r, _d, code) = shutdown_on_run(
        "son-fatal127",
        "[program:ghost]\ncommand=/nonexistent/ghost\nstartretries=0\nshutdown_on=fatal\n",
    );
    assert_eq!(code, 127, "{}", dump(&r));
    assert_eq!(
        r.count("WARN stopped: keeper (terminated by SIGTERM)"),
        1,
        "{}",
        dump(&r)
    );
}

#[test]
fn shutdown_on_unexpected_ignores_expected_exits() {
    require!(Need::PidNamespaces);
    let (r, _d, code) = shutdown_on_run(
        "son-unexp",
        "[program:good]\ncommand=sh -c 'sleep 1.1; exit 0'\nautorestart=false\nshutdown_on=unexpected\n\
         [program:bad]\ncommand=sh -c 'sleep 1.8; kill -USR1 $$'\nautorestart=false\nshutdown_on=unexpected\n",
    );
    assert_eq!(
        code,
        128 + libc::SIGUSR1,
        "status of a program killed by SIGUSR1:\n{}",
        dump(&r)
    );
    assert_sequence(
        &r.lines(),
        &["{*} exited: {*}", "{*} stopped: {*}"],
        &[
            "INFO exited: good (exit status 0; expected)",
            "WARN exited: bad (terminated by SIGUSR1; not expected)",
            "WARN stopped: keeper (terminated by SIGTERM)",
        ],
    );
}

#[test]
fn shutdown_on_any_fires_on_an_expected_exit() {
    require!(Need::PidNamespaces);
    let (r, _d, code) = shutdown_on_run(
        "son-any",
        "[program:oneshot]\ncommand=sh -c 'sleep 1.1; exit 6'\nexitcodes=0,6\nautorestart=false\nshutdown_on=any\n",
    );
    assert_eq!(code, 6, "{}", dump(&r));
    assert_sequence(
        &r.lines(),
        &["{*} exited: {*}", "{*} stopped: {*}"],
        &[
            "INFO exited: oneshot (exit status 6; expected)",
            "WARN stopped: keeper (terminated by SIGTERM)",
        ],
    );
}

#[test]
fn nothing_left_all_expected_exits_0() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "left0",
        "",
        "[program:a]\ncommand=sh -c 'sleep 1.1; exit 0'\n\
         [program:b]\ncommand=sh -c 'sleep 1.2; exit 2'\nexitcodes=2\n",
    );
    assert_eq!(r.wait_exit(secs(10)), 0, "{}", dump(&r));
    assert_sequence(
        &r.lines(),
        &["{*} exited: {*}"],
        &[
            "INFO exited: a (exit status 0; expected)",
            "INFO exited: b (exit status 2; expected)",
        ],
    );
}

#[test]
fn nothing_left_one_unexpected_exits_1() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "left1",
        "",
        "[program:a]\ncommand=sh -c 'sleep 1.1; exit 0'\n\
         [program:b]\ncommand=sh -c 'sleep 1.2; exit 3'\nautorestart=false\n",
    );
    assert_eq!(r.wait_exit(secs(10)), 1, "{}", dump(&r));
    assert_sequence(
        &r.lines(),
        &["{*} exited: {*}"],
        &[
            "INFO exited: a (exit status 0; expected)",
            "WARN exited: b (exit status 3; not expected)",
        ],
    );
}

#[test]
fn term_int_quit_to_rinit_exit_0() {
    require!(Need::PidNamespaces);
    for (sig, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
    ] {
        let (_d, mut r) = start("term", "", "[program:sleeper]\ncommand=sleep 1000\nstartsecs=0\n");
        r.wait_rec("INFO success: sleeper {*}", WAIT);
        r.signal(sig);
        assert_eq!(r.wait_exit(secs(10)), 0, "{name}:\n{}", dump(&r));
        assert_sequence(
            &r.lines(),
            &["WARN received {*}", "{*} stopped: {*}"],
            &[
                &format!("WARN received {name} indicating exit request"),
                "WARN stopped: sleeper (terminated by SIGTERM)",
            ],
        );
    }
}

#[test]
fn second_term_during_a_slow_stop_sends_sigkill_at_once() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "term2",
        "",
        "[program:noterm]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\nstopwaitsecs=30\npriority=900\n\
         [program:low]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\nstopwaitsecs=30\npriority=1\n",
    );
    r.wait_rec("INFO success: noterm {*}", WAIT);
    r.wait_rec("INFO success: low {*}", WAIT);
    wait_exec(&r, r.ns_pid_of("low"), "sleep");
    let pid = r.ns_pid_of("noterm");
    wait_exec(&r, pid, "sleep");
    r.signal(libc::SIGTERM);
    r.wait_rec("INFO waiting for low, noterm to die", WAIT);
    std::thread::sleep(Duration::from_millis(200));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(5)), 0, "{}", dump(&r));
    // The second request skips every remaining stopwaitsecs, also for the
    // lower-priority batch that was still waiting its turn (docs/design.md).
    let kill_line = format!("WARN killing 'noterm' ({pid}) with SIGKILL");
    let got = assert_sequence(
        &r.lines(),
        &[
            "WARN received {*}",
            "WARN killing 'noterm'{*}",
            "{*} stopped: noterm {*}",
        ],
        &[
            "WARN received SIGTERM indicating exit request",
            "WARN received SIGTERM indicating exit request",
            &kill_line,
            "WARN stopped: noterm (terminated by SIGKILL)",
        ],
    );
    let d = got[2].ms - got[1].ms;
    assert!(d <= 100, "SIGKILL {d} ms after the second SIGTERM:\n{}", dump(&r));
    let low = select(&r.recs(), &["WARN stopped: low (terminated by SIGKILL)"]);
    assert_eq!(low.len(), 1, "{}", dump(&r));
    assert!(
        low[0].ms - got[1].ms <= 200,
        "low stopped {} ms after the second SIGTERM",
        low[0].ms - got[1].ms
    );
}

// ---------------------------------------------------------------------------
// Event-driven: no idle wake-ups
// ---------------------------------------------------------------------------

#[test]
fn idle_rinit_has_no_context_switches() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "idle",
        "",
        "[program:one]\ncommand=sleep 1000\n[program:two]\ncommand=sleep 1000\n",
    );
    r.wait_nth("INFO success: {*}", 2, WAIT);
    std::thread::sleep(Duration::from_millis(200));
    let before = r.ctxt_switches();
    std::thread::sleep(secs(3));
    let after = r.ctxt_switches();
    assert_eq!(
        after - before,
        0,
        "rinit woke up {} times in 3 s of idleness",
        after - before
    );
    term_and_expect_0(&mut r);
}

// ---------------------------------------------------------------------------
// Clean restart (docs/design.md)
// ---------------------------------------------------------------------------

#[test]
fn clean_restart_stops_leftovers_before_respawn() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "leftover",
        "",
        &format!(
            "[program:web]\ncommand={}\nautorestart=true\n",
            fixture("leftover.sh")
        ),
    );
    let line = r.wait_output(|l| l.starts_with("leftover="), "the leftover's pid", WAIT);
    let leftover: i32 = line["leftover=".len()..].parse().unwrap();
    wait_exec(&r, leftover, "sleep");
    r.wait_rec("INFO success: web {*}", WAIT);
    let main = r.ns_pid_of("web");
    kill(r.host_pid_of("web"), libc::SIGKILL);
    r.wait_nth("INFO spawned: 'web' {*}", 2, WAIT);
    let warn = format!("WARN stopping 1 leftover process of web (process group {main}) before respawn");
    let reaped = format!("INFO reaped unknown pid {leftover} (terminated by SIGTERM)");
    let got = assert_sequence(
        &r.lines(),
        &[
            "{*} web {*}",
            "{*}'web'{*}",
            "{*} leftover {*}",
            "INFO reaped {*}",
        ],
        &[
            "INFO spawned: 'web' with pid {N}",
            "INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
            "WARN exited: web (terminated by SIGKILL; not expected)",
            &warn,
            &reaped,
            "INFO spawned: 'web' with pid {N}",
        ],
    );
    assert!(got[5].ms >= got[4].ms);
    term_and_expect_0(&mut r);
}

#[test]
fn clean_restart_kills_term_ignoring_leftovers_after_stopwaitsecs() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "leftover-kill",
        "",
        &format!(
            "[program:db]\ncommand={} noterm\nautorestart=true\nstopwaitsecs=1\n",
            fixture("leftover.sh")
        ),
    );
    let line = r.wait_output(|l| l.starts_with("leftover="), "the leftover's pid", WAIT);
    let leftover: i32 = line["leftover=".len()..].parse().unwrap();
    wait_exec(&r, leftover, "sleep");
    r.wait_rec("INFO success: db {*}", WAIT);
    let main = r.ns_pid_of("db");
    kill(r.host_pid_of("db"), libc::SIGKILL);
    r.wait_nth("INFO spawned: 'db' {*}", 2, WAIT);
    let warn = format!("WARN stopping 1 leftover process of db (process group {main}) before respawn");
    let reaped = format!("INFO reaped unknown pid {leftover} (terminated by SIGKILL)");
    let got = assert_sequence(
        &r.lines(),
        &[
            "{*}exited: db {*}",
            "{*}'db'{*}",
            "{*} leftover {*}",
            "INFO reaped {*}",
        ],
        &[
            "INFO spawned: 'db' with pid {N}",
            "WARN exited: db (terminated by SIGKILL; not expected)",
            &warn,
            &reaped,
            "INFO spawned: 'db' with pid {N}",
        ],
    );
    let d = got[3].ms - got[2].ms;
    assert!(
        (900..=1200).contains(&d),
        "leftover SIGKILLed {d} ms after the stop (stopwaitsecs=1):\n{}",
        dump(&r)
    );
    assert!(got[4].ms >= got[3].ms);
    term_and_expect_0(&mut r);
}

// ---------------------------------------------------------------------------
// More timing and shutdown details
// ---------------------------------------------------------------------------

#[test]
fn restart_from_exited_is_at_once_but_never_within_1s_of_the_previous_spawn() {
    require!(Need::PidNamespaces);
    let _g = serial();
    let (_d, mut r) = start(
        "guard",
        "",
        "[program:blink]\ncommand=sh -c 'sleep 0.2; exit 0'\nstartsecs=0\nautorestart=true\n",
    );
    r.wait_nth("INFO spawned: 'blink' {*}", 3, WAIT);
    let sp: Vec<Rec> = select(&r.recs(), &["INFO spawned: 'blink' {*}"]);
    let ex: Vec<Rec> = select(&r.recs(), &["INFO exited: blink (exit status 0; expected)"]);
    assert!(ex.len() >= 2, "{}", dump(&r));
    for k in 0..2 {
        let d = sp[k + 1].ms - sp[k].ms;
        // 1 s between spawn attempts; the lines carry fork-time jitter.
        assert!(
            (990..=1050).contains(&d),
            "spawn {} came {d} ms after the previous one:\n{}",
            k + 2,
            dump(&r)
        );
    }
    term_and_expect_0(&mut r);
}

#[test]
fn shutdown_during_backoff_is_silent_and_immediate() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "backoff-stop",
        "",
        "[program:flap]\ncommand=sh -c 'exit 1'\nstartretries=10\n",
    );
    r.wait_rec("WARN exited: flap (exit status 1; not expected)", WAIT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(5)), 0, "{}", dump(&r));
    let got = assert_sequence(
        &r.lines(),
        &[
            "{*}'flap'{*}",
            "{*}: flap {*}",
            "{*}flap to die",
            "WARN received {*}",
        ],
        &[
            "INFO spawned: 'flap' with pid {N}",
            "WARN exited: flap (exit status 1; not expected)",
            "WARN received SIGTERM indicating exit request",
        ],
    );
    let last = r.recs().last().unwrap().ms;
    assert!(
        last - got[2].ms <= 200,
        "shutdown took {} ms:\n{}",
        last - got[2].ms,
        dump(&r)
    );
}

#[test]
fn leftover_daemons_get_sigterm_then_sigkill_at_shutdown() {
    require!(Need::PidNamespaces);
    // Two daemons escape the program's process group (setsid): one obeys
    // SIGTERM, one ignores it. After the programs have stopped, docs/design.md
    // gives what is left SIGTERM, then SIGKILL one second later.
    let (_d, mut r) = start(
        "daemons",
        "",
        &format!("[program:spawner]\ncommand={}\n", fixture("daemons.sh")),
    );
    let polite = r.wait_output(|l| l.starts_with("polite="), "the daemons", WAIT)["polite=".len()..]
        .parse::<i32>()
        .unwrap();
    let stubborn = r.wait_output(|l| l.starts_with("stubborn="), "the daemons", WAIT)["stubborn=".len()..]
        .parse::<i32>()
        .unwrap();
    r.wait_rec("INFO success: spawner {*}", WAIT);
    wait_exec(&r, polite, "sleep");
    wait_exec(&r, stubborn, "sleep");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(10)), 0, "{}", dump(&r));
    let p = format!("INFO reaped unknown pid {polite} (terminated by SIGTERM)");
    let s = format!("INFO reaped unknown pid {stubborn} (terminated by SIGKILL)");
    let got = assert_sequence(
        &r.lines(),
        &["WARN stopped: {*}", "INFO reaped {*}"],
        &["WARN stopped: spawner (terminated by SIGTERM)", &p, &s],
    );
    let d = got[2].ms - got[0].ms;
    assert!(
        (950..=1300).contains(&d),
        "stubborn daemon SIGKILLed {d} ms after the programs stopped:\n{}",
        dump(&r)
    );
}

/// rinit run directly (not PID 1, a child subreaper then), with a program
/// whose pid is remembered so that drop can clean up.
struct Plain {
    child: std::process::Child,
    out: Capture,
    prog: Option<i32>,
}

impl Drop for Plain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(p) = self.prog {
            // SAFETY: kill of our own grandchild's process group.
            unsafe { libc::kill(-p, libc::SIGKILL) };
        }
    }
}

/// Run rinit directly (not PID 1) with one program, send it `sigs` one by
/// one, and require it to survive them all, then exit 0 on SIGTERM.
fn plain_rinit_survives(tag: &str, sigs: &[i32]) {
    let dir = TempDir::new(tag);
    let conf = config(&dir, "", "[program:sleeper]\ncommand=sleep 60\nstartsecs=0\n");
    let path = dir.write("supervisord.conf", &conf, false);
    let mut child = std::process::Command::new(BIN)
        .args(["-c", path.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = Capture::new();
    out.attach(child.stdout.take().unwrap(), Stream::Out);
    out.attach(child.stderr.take().unwrap(), Stream::Err);
    let mut p = Plain {
        child,
        out,
        prog: None,
    };
    let pid = p.child.id() as i32;
    let prog = p.out.wait_until(WAIT, "the program", |l| {
        recs(l)
            .iter()
            .find_map(|r| captures_opt("INFO spawned: 'sleeper' with pid {N}", &r.text()))
    });
    p.prog = Some(prog as i32);
    let mut died = Vec::new();
    for &sig in sigs {
        // SAFETY: signal to our own child.
        unsafe { libc::kill(pid, sig) };
        std::thread::sleep(Duration::from_millis(100));
        if let Some(st) = p.child.try_wait().unwrap() {
            died.push(format!("signal {sig}: rinit ended ({st})"));
            break;
        }
    }
    assert!(died.is_empty(), "{died:?}\n{}", p.out.all().join("\n"));
    // SAFETY: signal to our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + WAIT;
    let st = loop {
        if let Some(st) = p.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rinit did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(st.code(), Some(0), "{}", p.out.all().join("\n"));
}

// docs/design.md: rinit never dies of a signal it did not choose to die
// of; "anything else catchable" is ignored. Not PID 1 (docker run --init,
// shareProcessNamespace), the kernel does not protect it.

#[test]
fn not_pid1_rinit_survives_usr1_alrm_pwr() {
    plain_rinit_survives(
        "notpid1-plain",
        &[
            libc::SIGUSR1,
            libc::SIGALRM,
            libc::SIGPWR,
            libc::SIGVTALRM,
            35,
            64,
        ],
    );
}

#[test]
fn not_pid1_rinit_survives_fault_signals_sent_with_kill() {
    plain_rinit_survives(
        "notpid1-faults",
        &[
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGSYS,
        ],
    );
}

#[test]
fn not_pid1_rinit_survives_signals_32_to_34() {
    plain_rinit_survives("notpid1-rt", &[32, 33, 34]);
}

fn captures_opt(pattern: &str, text: &str) -> Option<i64> {
    matches(pattern, text).then(|| captures(pattern, text)[0])
}

#[test]
fn usr2_reopens_logs_and_other_signals_are_ignored() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "othersigs",
        "",
        "[program:sleeper]\ncommand=sleep 1000\nstartsecs=0\n",
    );
    r.wait_rec("INFO success: sleeper {*}", WAIT);
    r.signal(libc::SIGUSR2);
    r.wait_rec("INFO supervisord logreopen", WAIT);
    assert_sequence(
        &r.lines(),
        &["{*} received {*}", "{*}logreopen{*}"],
        &[
            "INFO received SIGUSR2 indicating log reopen request",
            "INFO supervisord logreopen",
        ],
    );
    // Everything else catchable is ignored (docs/design.md): nothing stops.
    for sig in [
        libc::SIGUSR1,
        libc::SIGALRM,
        libc::SIGPWR,
        libc::SIGWINCH,
        libc::SIGCONT,
        libc::SIGTSTP,
        34,
        40,
        64,
    ] {
        r.signal(sig);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(r.running(), "rinit ended:\n{}", dump(&r));
    assert_eq!(
        r.count("{*} exited: {*}") + r.count("{*} stopped: {*}"),
        0,
        "{}",
        dump(&r)
    );
    assert_eq!(
        status_field(r.host_pid, "State").map(|s| s.starts_with('S')),
        Some(true),
        "rinit is not sleeping"
    );
    term_and_expect_0(&mut r);
}

#[test]
fn child_setup_group_env_directory_umask_stdin() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("setup");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:envtest]\ncommand=sh -c 'echo \"env:$SUPERVISOR_ENABLED:$SUPERVISOR_PROCESS_NAME:$SUPERVISOR_GROUP_NAME:$FOO\"; echo \"pwd:$(pwd)\"; echo \"umask:$(umask)\"; exec sleep 1000'\n\
             directory={}\numask=027\nenvironment=FOO=\"bar baz\"\n",
            work.display()
        ),
    );
    let mut r = Rinit::start(&dir, &conf);
    r.wait_output(|l| l.starts_with("umask:"), "the program's report", WAIT);
    let lines = r.lines();
    assert!(
        lines.iter().any(|l| l == "env:1:envtest:envtest:bar baz"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| *l == format!("pwd:{}", work.display())),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "umask:0027"), "{lines:?}");
    let ns = r.ns_pid_of("envtest");
    wait_exec(&r, ns, "sleep");
    let h = r.host_of(ns);
    let p = read_proc(h).unwrap();
    assert_eq!(p.pgrp, h, "the program leads its own process group");
    let sid = |pid: i32| -> String {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(3)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        sid(h),
        sid(r.host_pid),
        "same session as rinit (setpgid, not setsid)"
    );
    let stdin = std::fs::read_link(format!("/proc/{h}/fd/0")).unwrap();
    assert_eq!(stdin, std::path::PathBuf::from("/dev/null"), "stdin");
    term_and_expect_0(&mut r);
}

/// rinit passes its own environment on as it got it, as supervisord passes
/// `os.environ` on: a value that is not UTF-8 reaches the child byte for
/// byte (rinit once handed children a lossy copy, U+FFFD for the byte).
#[test]
fn a_value_that_is_not_utf8_reaches_the_child_unchanged() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("envbytes");
    let conf = config(
        &dir,
        "",
        "[program:bytes]\ncommand=sh -c 'printf \"bytes:%%s:\" \"$RAW\" | od -An -c | tr -s \" \"; exec sleep 1000'\n",
    );
    let mut r = Rinit::launch(Launch {
        inner_prefix: vec![
            "sh".into(),
            "-c".into(),
            r#"RAW="$(printf 'a\377b')" exec "$0" "$@""#.into(),
        ],
        rinit_args: Rinit::conf_args(&dir, &conf),
        ..Launch::default()
    });
    let line = r.wait_output(|l| l.contains("b y t e s"), "the program's report", WAIT);
    assert_eq!(line.trim(), "b y t e s : a 377 b :", "{:?}", r.lines());
    term_and_expect_0(&mut r);
}

#[test]
fn second_term_during_the_final_phase_kills_leftovers_at_once() {
    require!(Need::PidNamespaces);
    // docs/design.md: a second exit request "skips every remaining
    // stopwaitsecs: SIGKILL goes to every process group at once" — also the
    // groups of leftover daemons that are in their 1 s TERM→KILL grace.
    let (_d, mut r) = start(
        "daemons2",
        "",
        &format!("[program:spawner]\ncommand={}\n", fixture("daemons.sh")),
    );
    let stubborn = r.wait_output(|l| l.starts_with("stubborn="), "the daemons", WAIT)["stubborn=".len()..]
        .parse::<i32>()
        .unwrap();
    r.wait_rec("INFO success: spawner {*}", WAIT);
    wait_exec(&r, stubborn, "sleep");
    r.signal(libc::SIGTERM);
    r.wait_rec("WARN stopped: spawner (terminated by SIGTERM)", WAIT);
    std::thread::sleep(Duration::from_millis(100));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(10)), 0, "{}", dump(&r));
    let got = assert_sequence(
        &r.lines(),
        &[
            "WARN received {*}",
            &format!("INFO reaped unknown pid {stubborn} {{*}}"),
        ],
        &[
            "WARN received SIGTERM indicating exit request",
            "WARN received SIGTERM indicating exit request",
            &format!("INFO reaped unknown pid {stubborn} (terminated by SIGKILL)"),
        ],
    );
    let d = got[2].ms - got[1].ms;
    assert!(
        d <= 200,
        "the TERM-ignoring daemon was SIGKILLed {d} ms after the second SIGTERM:\n{}",
        dump(&r)
    );
}

#[test]
fn exec_failure_prints_supervisors_child_lines_and_exits_127() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("enoexec");
    // Executable, found at lookup time, but not a valid executable format.
    let bad = dir.write("badbin", "\u{7f}ELF-not-really\n", true);
    let conf = config(
        &dir,
        "",
        &format!("[program:badbin]\ncommand={}\nstartretries=0\n", bad.display()),
    );
    let mut r = Rinit::start(&dir, &conf);
    assert_eq!(r.wait_exit(WAIT), 1, "FATAL → 1:\n{}", dump(&r));
    let lines = r.lines();
    // The child's lines are on rinit's stderr; only within that one stream
    // is their order the order of the writes.
    let errs = r.out.stream(Stream::Err);
    let want = format!("supervisor: couldn't exec {}: ENOEXEC", bad.display());
    let i = errs
        .iter()
        .position(|l| *l == want)
        .unwrap_or_else(|| panic!("no {want:?}:\n{}", dump(&r)));
    assert_eq!(
        errs.get(i + 1).map(String::as_str),
        Some("supervisor: child process was not spawned"),
        "{}",
        dump(&r)
    );
    assert_sequence(
        &lines,
        &["{*}badbin{*}"],
        &[
            "INFO spawned: 'badbin' with pid {N}",
            "WARN exited: badbin (exit status 127; not expected)",
            "INFO gave up: badbin entered FATAL state, too many start retries too quickly",
        ],
    );
}

/// A child's two failure lines are one write: rinit's own `spawned:` line,
/// written right after the fork, once landed between them (flaky until the
/// child, which no longer resets its signals first, failed sooner).
///
/// rinit's stdout and stderr are one pipe here, as on a terminal: only a
/// shared descriptor orders the two voices. Read from two pipes by two
/// threads, as the other tests do, their lines interleave at random (the
/// harness's own flake, seen once in CI).
#[test]
fn child_failure_lines_are_not_split_by_rinits_own_lines() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("enoexec20");
    let bad = dir.write("badbin", "\u{7f}ELF-not-really\n", true);
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:badbin]\ncommand={}\nstartretries=0\nnumprocs=20\nprocess_name=%(program_name)s_%(process_num)s\n",
            bad.display()
        ),
    );
    let mut r = Rinit::launch(Launch {
        inner_prefix: vec!["sh".into(), "-c".into(), "exec \"$0\" \"$@\" 2>&1".into()],
        rinit_args: Rinit::conf_args(&dir, &conf),
        ..Launch::default()
    });
    assert_eq!(r.wait_exit(WAIT), 1, "FATAL → 1:\n{}", dump(&r));
    let lines = r.out.stream(Stream::Out);
    let want = format!("supervisor: couldn't exec {}: ENOEXEC", bad.display());
    let firsts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == want).collect();
    assert_eq!(firsts.len(), 20, "{}", dump(&r));
    for i in firsts {
        assert_eq!(
            lines.get(i + 1).map(String::as_str),
            Some("supervisor: child process was not spawned"),
            "{}",
            dump(&r)
        );
    }
}

#[test]
fn only_autostart_false_programs_means_nothing_to_run_exit_0() {
    require!(Need::PidNamespaces);
    let (_d, mut r) = start(
        "noauto",
        "",
        "[program:manual]\ncommand=sleep 1000\nautostart=false\n",
    );
    assert_eq!(r.wait_exit(WAIT), 0, "{}", dump(&r));
    assert_eq!(r.count("INFO spawned: {*}"), 0, "{}", dump(&r));
}

#[test]
fn no_respawn_during_shutdown_while_an_earlier_batch_is_stopping() {
    require!(Need::PidNamespaces);
    // docs/state-machine.md: once shutdown has begun, no automatic spawn of any
    // kind (autorestart, BACKOFF retry) happens — also for processes whose
    // priority batch has not been stopped yet.
    let (_d, mut r) = start(
        "norespawn",
        "",
        "[program:slow]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\npriority=900\nstopwaitsecs=3\n\
         [program:crashy]\ncommand=sh -c 'sleep 1.6; exit 1'\npriority=1\nautorestart=true\n\
         [program:flappy]\ncommand=sh -c 'exit 1'\npriority=2\nstartretries=10\n",
    );
    r.wait_rec("INFO success: slow {*}", WAIT);
    r.wait_rec("INFO success: crashy {*}", WAIT);
    wait_exec(&r, r.ns_pid_of("slow"), "sleep");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", dump(&r));
    let recs = r.recs();
    let term = recs
        .iter()
        .position(|x| x.text() == "WARN received SIGTERM indicating exit request")
        .unwrap();
    let late: Vec<String> = recs[term..]
        .iter()
        .filter(|x| matches("INFO spawned: {*}", &x.text()))
        .map(Rec::text)
        .collect();
    assert!(late.is_empty(), "spawned during shutdown: {late:?}\n{}", dump(&r));
    assert_eq!(
        r.count("WARN exited: crashy (exit status 1; not expected)"),
        1,
        "{}",
        dump(&r)
    );
}

#[test]
fn shutdown_signals_the_whole_group_not_just_the_main_pid() {
    require!(Need::PidNamespaces);
    // docs/design.md: at shutdown the stop signal goes to the program's whole
    // process group whatever stopasgroup says (default false here). The
    // wrapper only exits once its child is gone; signalling the main pid
    // alone would leave it waiting until the SIGKILL after stopwaitsecs.
    let (_d, mut r) = start(
        "wwrapper",
        "",
        &format!("[program:wrapper]\ncommand={}\n", fixture("waiting_wrapper.sh")),
    );
    let line = r.wait_output(|l| l.starts_with("wrapper child="), "the wrapper's child", WAIT);
    let child: i32 = line["wrapper child=".len()..].parse().unwrap();
    r.wait_rec("INFO success: wrapper {*}", WAIT);
    wait_exec(&r, child, "sleep");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", dump(&r));
    let got = assert_sequence(
        &r.lines(),
        &["WARN received {*}", "{*} stopped: {*}", "WARN killing {*}"],
        &[
            "WARN received SIGTERM indicating exit request",
            "INFO stopped: wrapper (exit status 0)",
        ],
    );
    assert!(
        got[1].ms - got[0].ms <= 500,
        "the wrapper took {} ms to stop:\n{}",
        got[1].ms - got[0].ms,
        dump(&r)
    );
}

/// rinit's user+system CPU time in clock ticks, from /proc/PID/stat.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat; `after` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn no_busy_loop_while_a_halted_backoff_waits_for_its_batch() {
    require!(Need::PidNamespaces);
    // Regression: once shutdown halted a BACKOFF process, its retry deadline
    // stayed due and the event loop spun on a zero poll timeout until the
    // process's priority batch was stopped.
    let (_d, mut r) = start(
        "nospin",
        "",
        "[program:slow]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\npriority=900\nstopwaitsecs=3\n\
         [program:flappy]\ncommand=sh -c 'exit 1'\npriority=2\nstartretries=100\n",
    );
    r.wait_rec("INFO success: slow {*}", WAIT);
    wait_exec(&r, r.ns_pid_of("slow"), "sleep");
    r.wait_nth("WARN exited: flappy {*}", 2, WAIT);
    r.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(r.host_pid);
    std::thread::sleep(Duration::from_millis(2000));
    let used = cpu_ticks(r.host_pid) - before;
    assert!(
        used <= 10,
        "rinit used {used} clock ticks of CPU in 2 s while waiting to stop 'slow'"
    );
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", dump(&r));
}

// ---------------------------------------------------------------------------
// Reliability (defects found by adversarial testing)
// ---------------------------------------------------------------------------

#[test]
fn huge_startsecs_and_stopwaitsecs_wait_as_the_values_say() {
    // Regression: `now + secs * 1000` wrapped: RUNNING after 0.4 s, and
    // SIGKILL sent with the TERM (then repeated) for stopwaitsecs=2^63-1.
    let (_d, mut r) = start(
        "hugesecs",
        "",
        "[program:slow]\ncommand=sleep 1000\nstartsecs=18446744073709552\n\
         [program:patient]\ncommand=sh -c 'trap \"\" TERM; exec sleep 1000'\nstartsecs=0\n\
         stopwaitsecs=9223372036854775807\n",
    );
    r.wait_rec("INFO spawned: 'slow' with pid {N}", WAIT);
    r.wait_rec("INFO success: patient {*}", WAIT);
    wait_exec(&r, r.ns_pid_of("patient"), "sleep");
    r.signal(libc::SIGTERM);
    r.wait_rec("INFO waiting for {*} to die", WAIT);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(r.running(), "{}", dump(&r));
    assert_eq!(r.count("INFO success: slow {*}"), 0, "{}", dump(&r));
    assert_eq!(r.count("WARN killing {*}"), 0, "{}", dump(&r));
    // A second request still ends it at once.
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(5)), 0, "{}", dump(&r));
    assert_eq!(
        r.count("WARN killing 'patient' ({N}) with SIGKILL"),
        1,
        "{}",
        dump(&r)
    );
}

#[test]
fn stopwaitsecs_0_logs_one_sigkill_for_a_process_slow_to_die() {
    // Regression: the kill deadline was re-armed at `now`: a process that
    // ignores TERM and takes time to die (memory to tear down) got tens of
    // thousands of "killing 'big' (N) with SIGKILL" lines.
    let (_d, mut r) = start(
        "stopwait0",
        "",
        "[program:big]\ncommand=python3 -c \"import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); \
         b = b'x' * (512 << 20); print('big ready', flush=True); time.sleep(1000)\"\n\
         stopwaitsecs=0\nstartsecs=0\n",
    );
    r.wait_output(|l| l == "big ready", "big's memory to be touched", secs(30));
    let pid = r.ns_pid_of("big");
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(10)), 0, "{}", dump(&r));
    assert_sequence(
        &r.lines(),
        &[
            "WARN received {*}",
            "INFO waiting {*}",
            "WARN killing {*}",
            "{*} stopped: {*}",
        ],
        &[
            "WARN received SIGTERM indicating exit request",
            "INFO waiting for big to die",
            &format!("WARN killing 'big' ({pid}) with SIGKILL"),
            "WARN stopped: big (terminated by SIGKILL)",
        ],
    );
}

#[test]
fn term_during_a_spawn_burst_of_2000_is_served_before_the_burst_ends() {
    // Regression: every autostart was spawned before the loop began, so a
    // TERM sent during numprocs=10000 was noticed seconds later.
    let _g = serial();
    let (_d, mut r) = start(
        "burst2000",
        "",
        "[program:many]\ncommand=sleep 1000\nnumprocs=2000\nprocess_name=%(program_name)s_%(process_num)s\n",
    );
    r.wait_rec("INFO spawned: 'many_0' with pid {N}", WAIT);
    r.signal(libc::SIGTERM);
    r.wait_rec("WARN received SIGTERM indicating exit request", secs(30));
    assert_eq!(r.wait_exit(secs(60)), 0, "{}", dump(&r));
    let (before, after) = spawns_around(&r.recs(), "WARN received SIGTERM indicating exit request");
    assert!(before < 2000, "all {before} spawns came before the TERM was read");
    assert_eq!(after, 0, "spawns after the exit request");
    // Every program that was spawned was stopped, and nothing else.
    assert_eq!(r.count("{*} stopped: many_{N} ({*})"), before, "{}", dump(&r));
}

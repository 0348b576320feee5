//! SIGHUP reload (docs/reload.md), rinit as PID 1 of a namespace: an edited
//! config is applied group by group, the unchanged programs keep their
//! pids, and a broken edit changes nothing.

mod common;

use common::*;
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn running(name: &str) -> String {
    format!(
        "INFO success: {name} entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
    )
}

/// Replace the config the way a config manager should: a new file renamed
/// over the old one, so a reload never reads it half written.
fn replace_config(dir: &TempDir, text: &str) -> std::path::PathBuf {
    let tmp = dir.write("supervisord.conf.new", text, false);
    let path = dir.join("supervisord.conf");
    std::fs::rename(&tmp, &path).unwrap();
    path
}

const BEFORE: &str = "[program:keep]\ncommand=sleep 1001\n\n\
                      [program:gone]\ncommand=sleep 1002\n\n\
                      [program:edit]\ncommand=sleep 1003\n";

const AFTER: &str = "; a comment moves every line: not a change\n\n\
                     [program:keep]\ncommand=sleep 1001\n\n\
                     [program:edit]\ncommand=sleep 1004\n\n\
                     [program:new]\ncommand=sleep 1005\n";

#[test]
fn hup_applies_added_removed_and_changed_groups_and_keeps_the_rest() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload");
    let mut r = Rinit::start(&dir, &config(&dir, "", BEFORE));
    for p in ["keep", "gone", "edit"] {
        r.wait_rec(&running(p), secs(10));
    }
    let keep_pid = r.ns_pid_of("keep");
    replace_config(&dir, &config(&dir, "", AFTER));
    r.signal(libc::SIGHUP);
    r.wait_rec(&running("new"), secs(10));
    r.wait_nth("INFO spawned: 'edit' with pid {*}", 2, secs(10));
    r.wait_nth(&running("edit"), 2, secs(10));
    let all = r.lines();
    assert_sequence(
        &all,
        &["{*} gone {*}", "{*} gone", "{*}'gone'{*}"],
        &[
            "INFO spawned: 'gone' with pid {*}",
            &running("gone"),
            "INFO reload: removed group gone",
            "WARN stopped: gone (terminated by SIGTERM)",
        ],
    );
    // The changed program is stopped before its new version starts.
    assert_sequence(
        &all,
        &["{*} edit {*}", "{*} edit", "{*}'edit'{*}"],
        &[
            "INFO spawned: 'edit' with pid {*}",
            &running("edit"),
            "INFO reload: changed group edit",
            "WARN stopped: edit (terminated by SIGTERM)",
            "INFO spawned: 'edit' with pid {*}",
            &running("edit"),
        ],
    );
    assert_eq!(
        r.count("INFO spawned: 'keep' with pid {*}"),
        1,
        "keep was restarted:\n{}",
        all.join("\n")
    );
    assert_eq!(r.ns_pid_of("keep"), keep_pid);
    assert!(
        !all.iter().any(|l| l.contains("stopped: keep")),
        "{}",
        all.join("\n")
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", r.lines().join("\n"));
}

#[test]
fn hup_with_a_broken_config_logs_file_and_line_and_changes_nothing() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-broken");
    let mut r = Rinit::start(&dir, &config(&dir, "", BEFORE));
    r.wait_rec(&running("keep"), secs(10));
    let broken = config(&dir, "", &format!("{BEFORE}startsecs=abc\n"));
    let path = replace_config(&dir, &broken);
    r.signal(libc::SIGHUP);
    let line = broken.lines().position(|l| l == "startsecs=abc").unwrap() + 1;
    let rec = r.wait_rec(
        "ERRO reload failed, the running configuration is kept: {*}",
        secs(10),
    );
    assert!(
        rec.text().contains(&format!("{}:{line}: ", path.display())),
        "{}",
        rec.text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let all = r.lines();
    assert!(!all.iter().any(|l| l.contains("stopped:")), "{}", all.join("\n"));
    assert_eq!(r.count("INFO spawned: {*}"), 3);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

#[test]
fn two_hups_in_quick_succession_stop_nothing_twice_and_the_last_config_wins() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-twice");
    let mut r = Rinit::start(&dir, &config(&dir, "", BEFORE));
    r.wait_rec(&running("edit"), secs(10));
    replace_config(&dir, &config(&dir, "", AFTER));
    r.signal(libc::SIGHUP);
    let last = AFTER.replace("sleep 1005", "sleep 1006");
    replace_config(&dir, &config(&dir, "", &last));
    r.signal(libc::SIGHUP);
    // The two signals may arrive as one (pending signals merge): either
    // way the last file is what runs.
    r.wait_nth(&running("edit"), 2, secs(10));
    poll(secs(10), "new running `sleep 1006`", || {
        let host = r.host_pid_of("new");
        let cmd = std::fs::read(format!("/proc/{host}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmd).contains("1006").then_some(())
    });
    let all = r.lines();
    assert_eq!(
        r.count("WARN stopped: gone (terminated by SIGTERM)"),
        1,
        "{}",
        all.join("\n")
    );
    assert_eq!(
        r.count("WARN stopped: edit (terminated by SIGTERM)"),
        1,
        "{}",
        all.join("\n")
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", r.lines().join("\n"));
}

#[test]
fn hup_during_shutdown_is_ignored_and_logged() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-shutdown");
    let mut r = Rinit::start(
        &dir,
        &config(
            &dir,
            "",
            "[program:slow]\ncommand=sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'\nstopwaitsecs=2\n",
        ),
    );
    r.wait_rec(&running("slow"), secs(10));
    r.signal(libc::SIGTERM);
    r.wait_rec("INFO waiting for slow to die", secs(10));
    r.signal(libc::SIGHUP);
    r.wait_rec(
        "WARN ignored SIGHUP indicating restart request (shutdown in progress)",
        secs(10),
    );
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", r.lines().join("\n"));
    assert_eq!(r.count("INFO reload: {*}"), 0);
}

#[test]
fn hup_changes_a_program_in_backoff_and_the_old_one_never_retries() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-backoff");
    let before = "[program:flaky]\ncommand=false\nstartretries=100\n";
    let mut r = Rinit::start(&dir, &config(&dir, "", before));
    r.wait_nth("WARN exited: flaky (exit status 1; not expected)", 2, secs(10));
    replace_config(&dir, &config(&dir, "", "[program:flaky]\ncommand=sleep 1000\n"));
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: changed group flaky", secs(10));
    r.wait_rec(&running("flaky"), secs(10));
    // The new process runs `sleep`; no `false` is spawned after the reload.
    let host = r.host_pid_of("flaky");
    let cmd = std::fs::read(format!("/proc/{host}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmd).starts_with("sleep"),
        "{}",
        r.lines().join("\n")
    );
    let all = r.lines();
    let at = all
        .iter()
        .position(|l| l.contains("reload: changed group flaky"))
        .unwrap();
    assert_eq!(
        all[at..].iter().filter(|l| l.contains("exited: flaky")).count(),
        0,
        "the old program retried after the reload:\n{}",
        all.join("\n")
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

#[test]
fn hup_picks_up_a_file_added_to_an_include_glob() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-include");
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    dir.write("conf.d/a.conf", "[program:a]\ncommand=sleep 1001\n", false);
    let extra = format!("[include]\nfiles={}/conf.d/*.conf\n", dir.path.display());
    let mut r = Rinit::start(&dir, &config(&dir, &extra, ""));
    r.wait_rec(&running("a"), secs(10));
    let a_pid = r.ns_pid_of("a");
    dir.write("conf.d/b.conf", "[program:b]\ncommand=sleep 1002\n", false);
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: added group b", secs(10));
    r.wait_rec(&running("b"), secs(10));
    assert_eq!(r.ns_pid_of("a"), a_pid);
    std::fs::remove_file(dir.join("conf.d/a.conf")).unwrap();
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: removed group a", secs(10));
    r.wait_rec("WARN stopped: a (terminated by SIGTERM)", secs(10));
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0, "{}", r.lines().join("\n"));
}

#[test]
fn hup_applies_the_activity_log_settings_and_warns_about_the_others() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-loglevel");
    let programs = "[program:a]\ncommand=sleep 1000\n";
    let mut r = Rinit::start(&dir, &config(&dir, "", programs));
    r.wait_rec(&running("a"), secs(10));
    let main_log = dir.join("main.log");
    replace_config(
        &dir,
        &format!(
            "[supervisord]\nnodaemon=true\nlogfile={}\nloglevel=debug\nminfds=2048\npidfile={}\n{programs}",
            main_log.display(),
            dir.join("p.pid").display()
        ),
    );
    r.signal(libc::SIGHUP);
    r.wait_rec(
        "INFO reload: activity log settings applied (loglevel debug)",
        secs(10),
    );
    r.wait_rec(
        "WARN reload: [supervisord] settings other than the activity log's changed; they take effect when the container restarts",
        secs(10),
    );
    // DEBG records are written from now on, to the new log file too.
    r.signal(libc::SIGUSR1);
    r.wait_rec("DEBG received SIGUSR1 indicating nothing", secs(10));
    poll(secs(10), "the record in the new log file", || {
        std::fs::read_to_string(&main_log)
            .ok()
            .filter(|t| t.contains("DEBG received SIGUSR1 indicating nothing"))
            .map(|_| ())
    });
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

#[test]
fn hup_applies_a_numprocs_change_process_by_process() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-numprocs");
    let group = |n: u32| {
        format!(
            "[program:w]\ncommand=sleep 1000\nnumprocs={n}\nprocess_name=%(program_name)s_%(process_num)d\n"
        )
    };
    let mut r = Rinit::start(&dir, &config(&dir, "", &group(2)));
    r.wait_rec(&running("w_1"), secs(10));
    let (w0, w1) = (r.ns_pid_of("w_0"), r.ns_pid_of("w_1"));
    replace_config(&dir, &config(&dir, "", &group(3)));
    r.signal(libc::SIGHUP);
    r.wait_rec(&running("w_2"), secs(10));
    assert_eq!(
        (r.ns_pid_of("w_0"), r.ns_pid_of("w_1")),
        (w0, w1),
        "{}",
        r.lines().join("\n")
    );
    replace_config(&dir, &config(&dir, "", &group(1)));
    r.signal(libc::SIGHUP);
    r.wait_rec("WARN stopped: w_1 (terminated by SIGTERM)", secs(10));
    r.wait_rec("WARN stopped: w_2 (terminated by SIGTERM)", secs(10));
    assert_eq!(r.ns_pid_of("w_0"), w0);
    assert_eq!(r.count("{*} stopped: w_0 {*}"), 0, "{}", r.lines().join("\n"));
    assert_eq!(r.count("INFO spawned: {*}"), 3);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

#[test]
fn hup_during_start_up_adds_to_the_boot_and_stops_nothing() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-boot");
    let many =
        "[program:many]\ncommand=sleep 1000\nnumprocs=300\nprocess_name=%(program_name)s_%(process_num)d\n";
    let mut r = Rinit::start(&dir, &config(&dir, "", many));
    r.wait_rec("INFO spawned: 'many_0' with pid {N}", secs(10));
    replace_config(
        &dir,
        &config(&dir, "", &format!("{many}[program:x]\ncommand=sleep 1001\n")),
    );
    r.signal(libc::SIGHUP);
    r.wait_rec(&running("x"), secs(20));
    r.wait_rec(&running("many_299"), secs(20));
    assert_eq!(r.count("INFO spawned: {*}"), 301, "{}", r.lines().join("\n"));
    assert_eq!(r.count("{*} stopped: {*}"), 0);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(30)), 0);
}

#[test]
fn hup_renames_a_program_and_reshapes_a_group() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-reshape");
    let before = "[program:old]\ncommand=sleep 1001\n\
                  [group:g]\nprograms=a,b\n\
                  [program:a]\ncommand=sleep 1002\n[program:b]\ncommand=sleep 1003\n";
    let after = "[program:renamed]\ncommand=sleep 1001\n\
                 [group:g]\nprograms=a\n\
                 [program:a]\ncommand=sleep 1002\n[program:b]\ncommand=sleep 1003\n";
    let mut r = Rinit::start(&dir, &config(&dir, "", before));
    r.wait_rec(&running("b"), secs(10));
    let a = r.ns_pid_of("a");
    replace_config(&dir, &config(&dir, "", after));
    r.signal(libc::SIGHUP);
    r.wait_rec("WARN stopped: old (terminated by SIGTERM)", secs(10));
    r.wait_rec(&running("renamed"), secs(10));
    // b leaves g for a group of its own: stopped, then started again.
    r.wait_rec("WARN stopped: b (terminated by SIGTERM)", secs(10));
    r.wait_nth(&running("b"), 2, secs(10));
    // a stays in g, unchanged.
    assert_eq!(r.ns_pid_of("a"), a, "{}", r.lines().join("\n"));
    assert_eq!(r.count("{*} stopped: a {*}"), 0);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

#[test]
fn hup_gives_a_changed_shutdown_on_to_the_new_process() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-shutdown-on");
    let prog = |on: &str| {
        format!("[program:s]\ncommand=sleep 1000\nshutdown_on={on}\n[program:t]\ncommand=sleep 1001\n")
    };
    let mut r = Rinit::start(&dir, &config(&dir, "", &prog("never")));
    r.wait_rec(&running("s"), secs(10));
    replace_config(&dir, &config(&dir, "", &prog("any")));
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: changed group s", secs(10));
    r.wait_nth(&running("s"), 2, secs(10));
    kill(r.host_pid_of("s"), libc::SIGKILL);
    // shutdown_on=any now: rinit ends with the program's status.
    assert_eq!(
        r.wait_exit(secs(15)),
        128 + libc::SIGKILL,
        "{}",
        r.lines().join("\n")
    );
}

#[test]
fn hup_while_a_removed_program_is_still_stopping_stops_it_once() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("reload-stopping");
    let slow =
        "[program:slow]\ncommand=sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'\nstopwaitsecs=2\n";
    let keep = "[program:keep]\ncommand=sleep 1000\n";
    let mut r = Rinit::start(&dir, &config(&dir, "", &format!("{slow}{keep}")));
    r.wait_rec(&running("slow"), secs(10));
    replace_config(&dir, &config(&dir, "", keep));
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: removed group slow", secs(10));
    // Still STOPPING (it ignores TERM): a second HUP changes nothing.
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: no change to the programs", secs(10));
    r.wait_rec("WARN killing 'slow' ({N}) with SIGKILL", secs(10));
    r.wait_rec("WARN stopped: slow (terminated by SIGKILL)", secs(10));
    assert_eq!(r.count("{*} stopped: slow {*}"), 1, "{}", r.lines().join("\n"));
    assert_eq!(r.count("{*} killing 'slow' {*}"), 1);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

#[test]
fn hup_sends_process_group_removed_and_added_to_listeners() {
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    let dir = TempDir::new("reload-events");
    let log = dir.join("events.log");
    let recorder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events/recorder.py");
    let listener = format!(
        "[eventlistener:rec]\ncommand=python3 {recorder} {}\nevents=PROCESS_GROUP\nbuffer_size=100\n",
        log.display()
    );
    let mut r = Rinit::start(&dir, &config(&dir, "", &format!("{listener}{BEFORE}")));
    r.wait_rec(&running("rec"), secs(10));
    replace_config(&dir, &config(&dir, "", &format!("{listener}{AFTER}")));
    r.signal(libc::SIGHUP);
    r.wait_rec(&running("new"), secs(10));
    let want = [
        "PROCESS_GROUP_REMOVED gone - -",
        "PROCESS_GROUP_REMOVED edit - -",
        "PROCESS_GROUP_ADDED edit - -",
        "PROCESS_GROUP_ADDED new - -",
    ];
    let got = poll(secs(10), "the group events", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let at = lines.iter().position(|l| l == want[0])?;
        (lines.len() >= at + want.len()).then(|| lines[at..at + want.len()].to_vec())
    });
    assert_eq!(got, want);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(15)), 0);
}

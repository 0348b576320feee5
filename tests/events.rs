//! Event listeners end to end (issue 12, item 5): listeners that people run
//! and nobody here wrote (supervisor.childutils, superlance's crashmail and
//! fatalmailbatch, the corpus's shell one-liner, a stop-supervisor.sh, the
//! supervisor_stdout handler, a bare bash loop) and the protocol's corner
//! cases (garbage, a rejected event, buffer overflow). See docs/events.md.
//!
//! Every case runs twice, each time as PID 1 of a fresh PID namespace: once
//! under supervisord 4.2.5 (the `_supervisord` tests; they prove that the
//! fixture and every line asserted are supervisord's own), once under rinit
//! (the `_rinit` tests). The same function asserts both, so the lines are
//! rinit's only where docs/events.md and README's deviations table say so.
//!
//! The listeners live in tests/fixtures/events/; superlance comes from PyPI
//! into /opt/rinit-venv (.ci/run), which sees Debian's `supervisor` module.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events");

/// superlance's entry points, installed by .ci/run.
const VENV_BIN: &str = "/opt/rinit-venv/bin";

/// Debian's interpreter: it imports `supervisor` (a pyenv `python3` on PATH
/// may not).
const PY: &str = "/usr/bin/python3";

fn fx(name: &str) -> String {
    format!("{FIX}/{name}")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Init {
    Supervisord,
    Rinit,
}

/// Start `init` as PID 1 on `conf` (written into `dir`), with `env` added.
fn start(init: Init, dir: &TempDir, conf: &str, env: &[(&str, &str)]) -> Rinit {
    let mut l = Launch {
        rinit_args: Rinit::conf_args(dir, conf),
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Launch::default()
    };
    if init == Init::Supervisord {
        // `sh -c 'shift; exec supervisord -n "$@"' sh RINIT -c CONF`: the
        // launcher's argv ends with the rinit binary and its arguments; drop
        // the binary, keep `-c CONF`. supervisord stays PID 1 (exec).
        l.inner_prefix = ["sh", "-c", "shift; exec /usr/bin/supervisord -n \"$@\"", "sh"]
            .map(String::from)
            .to_vec();
    }
    Rinit::launch(l)
}

/// A case's two tests. Both need PID namespaces and Debian's `supervisor`
/// package: the reference half runs its supervisord, and rinit's half needs
/// the `supervisor` module that childutils and superlance import (one tier
/// for all cases keeps this simple; CI has the package).
macro_rules! both {
    ($case:ident, $sv:ident, $ri:ident $(, $need:expr)*) => {
        #[test]
        fn $sv() {
            require!(Need::PidNamespaces, Need::Cmd("supervisord") $(, $need)*);
            $case(Init::Supervisord);
        }

        #[test]
        fn $ri() {
            require!(Need::PidNamespaces, Need::Cmd("supervisord") $(, $need)*);
            $case(Init::Rinit);
        }
    };
}

/// superlance is a PyPI package in a venv, not a command on PATH: skip (or
/// fail under RINIT_REQUIRE_ALL=1) like `require!` when it is missing.
fn superlance_missing(what: &str) -> bool {
    let p = Path::new(VENV_BIN).join(what);
    if p.exists() {
        return false;
    }
    let line = format!(
        "SKIPPED {}: {}: superlance is not installed ({} missing; .ci/run installs it)",
        file!(),
        std::thread::current().name().unwrap_or("?"),
        p.display()
    );
    if std::env::var(REQUIRE_ALL).is_ok_and(|v| v == "1") {
        panic!("{line} [{REQUIRE_ALL}=1 makes every skip a failure]");
    }
    eprintln!("{line}");
    true
}

fn lines_of(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .map(|s| s.lines().map(String::from).collect())
        .unwrap_or_default()
}

/// Wait until the file `p` has at least `n` lines; returns them.
fn wait_lines(r: &Rinit, p: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let l = lines_of(p);
        if l.len() >= n {
            return l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {n} lines in {}: {l:?}\n--- output ---\n{}",
            p.display(),
            r.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The mails in `dir` (files `mail.*`), in name order.
fn mails(dir: &Path) -> Vec<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("mail."))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

fn wait_mails(r: &Rinit, dir: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let m = mails(dir);
        if m.len() >= n {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {n} mail(s) in {}: {m:?}\n--- listener stderr ---\n{}\n--- output ---\n{}",
            dir.display(),
            lines_of(&dir.with_file_name("listener.err")).join("\n"),
            r.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then the init exits 0 after stopping everything.
fn term_and_expect_0(r: &mut Rinit) {
    r.signal(libc::SIGTERM);
    let code = r.wait_exit(secs(20));
    assert_eq!(code, 0, "exit status\n{}", r.lines().join("\n"));
}

/// The `[unix_http_server]` + `[supervisorctl]` sections superlance needs:
/// it exits unless SUPERVISOR_SERVER_URL is set, which the init sets for
/// its children only when it serves the control interface.
fn control_sections(dir: &TempDir) -> String {
    let sock = dir.join("supervisor.sock");
    format!(
        "[unix_http_server]\nfile={s}\n\n[rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{s}\n",
        s = sock.display()
    )
}

/// A shell command that exits 3 after `secs` seconds its first `times` runs,
/// then stays up: a fixed number of unexpected exits, counted in `counter`.
fn exits_n_times(counter: &Path, times: u32, secs: &str) -> String {
    format!(
        "sh -c 'n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; \
         [ \"$n\" -ge {times} ] && exec sleep 100000; sleep {secs}; exit 3'",
        c = counter.display()
    )
}

// ---------------------------------------------------------------------------
// supervisor.childutils
// ---------------------------------------------------------------------------

/// A listener written with supervisor.childutils (as supervisor's docs
/// teach) sees a FATAL and an unexpected EXITED with their from_state and
/// expected fields.
fn childutils_listener(init: Init) {
    let dir = TempDir::new("ev-childutils");
    let log = dir.join("events.log");
    let conf = config(
        &dir,
        "",
        &format!(
            "[eventlistener:cu]\ncommand={PY} {} {}\nevents=PROCESS_STATE_EXITED,PROCESS_STATE_FATAL\n\n\
             [program:bad]\ncommand=sh -c 'sleep 2; exit 3'\nautorestart=false\n\n\
             [program:crash]\ncommand=false\nstartretries=0\n",
            fx("childutils_listener.py"),
            log.display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec(
        "INFO gave up: crash entered FATAL state, too many start retries too quickly",
        WAIT,
    );
    r.wait_rec("WARN exited: bad (exit status 3; not expected)", WAIT);
    let got = wait_lines(&r, &log, 2, WAIT);
    assert_eq!(
        got,
        [
            "PROCESS_STATE_FATAL crash BACKOFF -",
            "PROCESS_STATE_EXITED bad RUNNING 0"
        ],
        "\n{}",
        r.lines().join("\n")
    );
    term_and_expect_0(&mut r);
    r.wait_rec("WARN stopped: cu (terminated by SIGTERM)", WAIT);
}
both!(
    childutils_listener,
    childutils_listener_records_fatal_and_exit_supervisord,
    childutils_listener_records_fatal_and_exit_rinit
);

// ---------------------------------------------------------------------------
// superlance
// ---------------------------------------------------------------------------

/// superlance's crashmail, with a fake sendmail: one mail per unexpected
/// exit, naming the program and the pid that exited; none for an expected
/// exit, none for the stop at shutdown.
fn crashmail(init: Init) {
    if superlance_missing("crashmail") {
        return;
    }
    let dir = TempDir::new("ev-crashmail");
    let maildir = dir.join("mail");
    std::fs::create_dir_all(&maildir).expect("mail dir");
    let conf = config(
        &dir,
        "",
        &format!(
            "{ctl}\n[eventlistener:crashmail]\n\
             command={VENV_BIN}/crashmail -a -m ops@example.com -s \"{sendmail} {maildir}\"\n\
             events=PROCESS_STATE_EXITED\nstderr_logfile={err}\n\n\
             [program:crashy]\ncommand={crashy}\nautorestart=true\n\n\
             [program:fine]\ncommand=sh -c 'sleep 1.5; exit 0'\nexitcodes=0\nautorestart=false\n",
            ctl = control_sections(&dir),
            sendmail = fx("fake_sendmail.sh"),
            maildir = maildir.display(),
            crashy = exits_n_times(&dir.join("count"), 2, "1.5"),
            err = dir.join("listener.err").display(),
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_nth("WARN exited: crashy (exit status 3; not expected)", 2, secs(20));
    r.wait_nth(
        "INFO success: crashy entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        3,
        secs(20),
    );
    r.wait_rec("INFO exited: fine (exit status 0; expected)", WAIT);
    let got = wait_mails(&r, &maildir, 2, WAIT);
    let pids: Vec<i64> = select(&r.recs(), &["INFO spawned: 'crashy' with pid {N}"])
        .iter()
        .map(|rec| captures("INFO spawned: 'crashy' with pid {N}", &rec.text())[0])
        .collect();
    term_and_expect_0(&mut r);
    let got_after = mails(&maildir);
    assert_eq!(
        got_after.len(),
        2,
        "one mail per unexpected exit, no more: {got_after:?}"
    );
    for (mail, pid) in got.iter().zip(&pids) {
        assert!(
            mail.starts_with("To: ops@example.com\nSubject:  crashy crashed at "),
            "{mail}"
        );
        let body =
            format!("Process crashy in group crashy exited unexpectedly (pid {pid}) from state RUNNING");
        assert!(mail.ends_with(&body), "mail {mail:?} lacks {body:?}");
    }
}
both!(
    crashmail,
    crashmail_sends_one_mail_per_unexpected_exit_supervisord,
    crashmail_sends_one_mail_per_unexpected_exit_rinit
);

/// A free TCP port on 127.0.0.1 (for the fake SMTP server).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// superlance's fatalmailbatch, with a fake SMTP server run as a program of
/// the same config: on the first TICK_5 after a program goes FATAL, one
/// mail that names it.
///
/// `startsecs=5`: with the default 1 s, a loaded machine once let supervisord
/// see `false` as up for a second (its exit is noticed a loop pass late),
/// RUNNING instead of FATAL (fatalmailbatch_…_supervisord failed 1 of 2).
fn fatalmailbatch(init: Init) {
    if superlance_missing("fatalmailbatch") {
        return;
    }
    let dir = TempDir::new("ev-fatalmail");
    let maildir = dir.join("mail");
    std::fs::create_dir_all(&maildir).expect("mail dir");
    let port = free_port();
    let conf = config(
        &dir,
        "",
        &format!(
            "{ctl}\n[program:smtp]\ncommand={PY} {smtp} {port} {maildir}\npriority=1\n\n\
             [eventlistener:fatalmail]\n\
             command={VENV_BIN}/fatalmailbatch --toEmail=ops@example.com --fromEmail=rinit@example.com \
             --smtpHost=127.0.0.1:{port} --tickEvent=TICK_5 --interval=0.08\n\
             events=PROCESS_STATE,TICK_5\nstderr_logfile={err}\n\n\
             [program:broken]\ncommand=false\nstartretries=1\nstartsecs=5\n",
            ctl = control_sections(&dir),
            smtp = fx("fake_smtp.py"),
            err = dir.join("listener.err").display(),
            maildir = maildir.display(),
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec(
        "INFO gave up: broken entered FATAL state, too many start retries too quickly",
        WAIT,
    );
    // interval 0.08 min (4.8 s) is reached at the first TICK_5: within 5 s.
    let got = wait_mails(&r, &maildir, 1, secs(15));
    let mail = &got[0];
    for want in [
        "Subject: Fatal start alert from supervisord\n",
        "From: rinit@example.com\n",
        "To: ops@example.com\n",
    ] {
        assert!(mail.contains(want), "mail lacks {want:?}:\n{mail}");
    }
    let last = mail.trim_end().lines().last().unwrap_or("");
    assert!(
        matches(
            "{N}-{N}-{N} {N}:{N}:{N},{N} -- Process broken:broken failed to start too many times",
            last
        ),
        "last line of the mail: {last:?}"
    );
    term_and_expect_0(&mut r);
    assert_eq!(mails(&maildir).len(), 1, "one batch mail");
}
both!(
    fatalmailbatch,
    fatalmailbatch_mails_the_program_that_went_fatal_supervisord,
    fatalmailbatch_mails_the_program_that_went_fatal_rinit
);

// ---------------------------------------------------------------------------
// Listeners that end the container
// ---------------------------------------------------------------------------

/// The corpus's one-liner (its config 022-supervisor-issue-733.conf, from
/// supervisor issue #733) on PROCESS_STATE_FATAL, with a program that cannot
/// start: the listener sends SIGTERM to its parent, the init shuts down
/// cleanly, stopping the other program and then the listener, and exits 0.
fn fatal_one_liner(init: Init) {
    let dir = TempDir::new("ev-oneliner");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:nonexistent]\ncommand={d}/nonexistent\nstartsecs=0\nstartretries=0\nautorestart=false\n\n\
             [program:web]\ncommand=sleep 100000\n\n\
             [eventlistener:fatalexit]\nevents=PROCESS_STATE_FATAL\n\
             command=sh -c 'while true; do printf \"READY\\n\"; read line; kill -15 $PPID; \
             printf \"RESULT 2\\n\"; printf \"OK\"; done'\n\
             startsecs=0\nstartretries=0\n",
            d = dir.path.display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    let code = r.wait_exit(secs(20));
    assert_eq!(code, 0, "exit status\n{}", r.lines().join("\n"));
    let all = r.lines();
    assert_sequence(
        &all,
        &[
            "INFO spawnerr: {*}",
            "INFO gave up: {*}",
            "WARN received {*}",
            "WARN stopped: {*}",
        ],
        &[
            &format!(
                "INFO spawnerr: can't find command '{}/nonexistent'",
                dir.path.display()
            ),
            "INFO gave up: nonexistent entered FATAL state, too many start retries too quickly",
            "WARN received SIGTERM indicating exit request",
            "WARN stopped: web (terminated by SIGTERM)",
            "WARN stopped: fatalexit (terminated by SIGTERM)",
        ],
    );
}
both!(
    fatal_one_liner,
    fatal_one_liner_shuts_down_cleanly_and_exits_supervisord,
    fatal_one_liner_shuts_down_cleanly_and_exits_rinit
);

/// A stop-supervisor.sh as Docker images ship it (corpus configs 011-mailcow-
/// dovecot and 018-tiangolo-uwsgi-nginx-debian; the `events=` list spelled
/// with spaces as mailcow does): on the first STOPPED/EXITED/FATAL event it
/// sends SIGQUIT to the pid in the pidfile (PID 1), and the init shuts down
/// and exits 0.
fn stop_supervisor_script(init: Init) {
    let dir = TempDir::new("ev-stopscript");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:job]\ncommand=sh -c 'sleep 1.5; exit 0'\nautorestart=false\n\n\
             [program:web]\ncommand=sleep 100000\n\n\
             [eventlistener:stopper]\ncommand={} {}\n\
             events=PROCESS_STATE_STOPPED, PROCESS_STATE_EXITED, PROCESS_STATE_FATAL\n",
            fx("stop_supervisor.sh"),
            dir.join("p.pid").display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    let code = r.wait_exit(secs(20));
    assert_eq!(code, 0, "exit status\n{}", r.lines().join("\n"));
    assert_sequence(
        &r.lines(),
        &["INFO exited: {*}", "WARN received {*}", "WARN stopped: {*}"],
        &[
            "INFO exited: job (exit status 0; expected)",
            "WARN received SIGQUIT indicating exit request",
            "WARN stopped: web (terminated by SIGTERM)",
            "WARN stopped: stopper (terminated by SIGTERM)",
        ],
    );
}
both!(
    stop_supervisor_script,
    stop_supervisor_script_signals_the_pidfile_pid_supervisord,
    stop_supervisor_script_signals_the_pidfile_pid_rinit
);

// ---------------------------------------------------------------------------
// supervisor_stdout
// ---------------------------------------------------------------------------

/// `result_handler=supervisor_stdout:event_handler` with supervisor-stdout's
/// listener (ported to Python 3): each PROCESS_LOG payload comes back as the
/// result, and the init prints it line by line as `NAME CHANNEL | LINE` on
/// its stdout. The payload ends with a newline, so the handler also prints
/// an empty `NAME CHANNEL | ` line after each event. supervisord needs the
/// handler importable (tests/fixtures/events/pylib, a Python 3 port);
/// rinit has it built in (docs/events.md).
fn supervisor_stdout(init: Init) {
    let dir = TempDir::new("ev-stdout");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:talker]\n\
             command=sh -c 'echo hello out; echo hello err >&2; sleep 0.5; printf \"two\\nlines\\n\"; \
             exec sleep 100000'\n\
             stdout_events_enabled=true\nstderr_events_enabled=true\n\n\
             [eventlistener:stdout]\ncommand={PY} {}\nbuffer_size=100\nevents=PROCESS_LOG\n\
             result_handler=supervisor_stdout:event_handler\n",
            fx("stdout_listener.py")
        ),
    );
    let mut r = start(init, &dir, &conf, &[("PYTHONPATH", &fx("pylib"))]);
    r.wait_rec(
        "INFO success: talker entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        WAIT,
    );
    std::thread::sleep(Duration::from_millis(1500));
    // supervisord's handler prints through Python's block-buffered stdout:
    // its lines come out at exit. Compare after exit, for both inits.
    term_and_expect_0(&mut r);
    let out = r.out.stream(Stream::Out);
    let of = |chan: &str| -> Vec<String> {
        let prefix = format!("talker {chan} | ");
        out.iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eq!(
        of("stdout"),
        ["hello out", "two", "lines"],
        "stdout:\n{}",
        out.join("\n")
    );
    assert_eq!(of("stderr"), ["hello err"], "stdout:\n{}", out.join("\n"));
    assert!(
        out.iter().any(|l| l == "talker stdout | "),
        "stdout:\n{}",
        out.join("\n")
    );
    assert!(
        out.iter().any(|l| l == "talker stderr | "),
        "stdout:\n{}",
        out.join("\n")
    );
    // the protocol channel never reaches the output
    assert!(
        !r.lines()
            .iter()
            .any(|l| l.contains("RESULT") || l.contains("READY")),
        "{}",
        r.lines().join("\n")
    );
}
both!(
    supervisor_stdout,
    supervisor_stdout_handler_prints_process_log_supervisord,
    supervisor_stdout_handler_prints_process_log_rinit
);

// ---------------------------------------------------------------------------
// No library at all
// ---------------------------------------------------------------------------

/// A listener in plain bash: it sees its own RUNNING, the program's
/// RUNNING, and the program's unexpected exit.
fn bash_listener(init: Init) {
    let dir = TempDir::new("ev-bash");
    let log = dir.join("events.log");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:bad]\ncommand=sh -c 'sleep 2; exit 3'\nautorestart=false\n\n\
             [eventlistener:bashl]\ncommand={} {}\nevents=PROCESS_STATE_EXITED,PROCESS_STATE_RUNNING\n",
            fx("bash_listener.sh"),
            log.display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec("WARN exited: bad (exit status 3; not expected)", WAIT);
    let got = wait_lines(&r, &log, 3, WAIT);
    term_and_expect_0(&mut r);
    // bashl and bad reach RUNNING together: compare each process's sequence
    let of = |p: &str| -> Vec<String> {
        got.iter()
            .filter(|l| l.split(' ').nth(1) == Some(p))
            .cloned()
            .collect()
    };
    assert_eq!(of("bashl"), ["PROCESS_STATE_RUNNING bashl STARTING -"], "{got:?}");
    assert_eq!(
        of("bad"),
        [
            "PROCESS_STATE_RUNNING bad STARTING -",
            "PROCESS_STATE_EXITED bad RUNNING 0"
        ],
        "{got:?}"
    );
    assert_eq!(lines_of(&log).len(), 3, "no more events: {:?}", lines_of(&log));
}
both!(
    bash_listener,
    bash_read_loop_listener_without_library_supervisord,
    bash_read_loop_listener_without_library_rinit
);

// ---------------------------------------------------------------------------
// Protocol corner cases
// ---------------------------------------------------------------------------

/// A listener that writes garbage instead of READY enters UNKNOWN with
/// supervisord's WARN line, gets no events, and is not killed: it is stopped
/// at shutdown like any process.
fn garbage_listener(init: Init) {
    let dir = TempDir::new("ev-garbage");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:bad]\ncommand=sh -c 'sleep 2; exit 3'\nautorestart=false\n\n\
             [eventlistener:garbage]\ncommand={}\nevents=PROCESS_STATE_EXITED\n",
            fx("garbage.sh")
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec("WARN exited: bad (exit status 3; not expected)", WAIT);
    std::thread::sleep(Duration::from_millis(1500));
    term_and_expect_0(&mut r);
    assert_sequence(
        &r.lines(),
        &["{*}garbage{*}"],
        &[
            "INFO spawned: 'garbage' with pid {N}",
            "WARN garbage: has entered the UNKNOWN state and will no longer receive events, \
             this usually indicates the process violated the eventlistener protocol",
            "INFO success: garbage entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
            "INFO waiting for garbage to die",
            "WARN stopped: garbage (terminated by SIGTERM)",
        ],
    );
}
both!(
    garbage_listener,
    garbage_listener_enters_unknown_with_a_warning_supervisord,
    garbage_listener_enters_unknown_with_a_warning_rinit
);

/// A listener that answers FAIL to an event gets the same event (same
/// serial) again, and accepts it the second time.
fn rejected_event(init: Init) {
    let dir = TempDir::new("ev-reject");
    let log = dir.join("picky.log");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:bad]\ncommand=sh -c 'sleep 2; exit 3'\nautorestart=false\n\n\
             [eventlistener:picky]\ncommand={PY} {} {}\nevents=PROCESS_STATE_EXITED\n",
            fx("fail_then_ok.py"),
            log.display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec("WARN exited: bad (exit status 3; not expected)", WAIT);
    let got = wait_lines(&r, &log, 2, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    term_and_expect_0(&mut r);
    assert_eq!(
        got,
        ["0 PROCESS_STATE_EXITED bad FAIL", "0 PROCESS_STATE_EXITED bad OK"],
        "\n{}",
        r.lines().join("\n")
    );
    assert_eq!(lines_of(&log).len(), 2, "{:?}", lines_of(&log));
    assert_eq!(
        r.count("WARN picky: event was rejected"),
        1,
        "{}",
        r.lines().join("\n")
    );
}
both!(
    rejected_event,
    rejected_event_is_redelivered_supervisord,
    rejected_event_is_redelivered_rinit
);

/// A pool of two: the listener that gets the event dies without answering;
/// the event (same serial) goes to the other listener, which also gets the
/// dead listener's own EXITED event; the dead one is restarted.
fn listener_dies_mid_event(init: Init) {
    let dir = TempDir::new("ev-dies");
    let log = dir.join("ev.log");
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:bad]\ncommand=sh -c 'sleep 2; exit 3'\nautorestart=false\n\n\
             [eventlistener:pool]\ncommand={PY} {} {} {}\nprocess_name=%(program_name)s_%(process_num)d\n\
             numprocs=2\nevents=PROCESS_STATE_EXITED\n",
            fx("dies_once.py"),
            log.display(),
            dir.join("died").display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec("WARN exited: bad (exit status 3; not expected)", WAIT);
    r.wait_rec("WARN exited: pool_0 (exit status 1; not expected)", WAIT);
    r.wait_nth(
        "INFO success: pool_0 entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        2,
        WAIT,
    );
    let got = wait_lines(&r, &log, 3, WAIT);
    term_and_expect_0(&mut r);
    assert_eq!(
        got,
        [
            "0 PROCESS_STATE_EXITED bad pool_0",
            "0 PROCESS_STATE_EXITED bad pool_1",
            "1 PROCESS_STATE_EXITED pool_0 pool_1"
        ],
        "\n{}",
        r.lines().join("\n")
    );
    assert_eq!(lines_of(&log).len(), 3, "{:?}", lines_of(&log));
}
both!(
    listener_dies_mid_event,
    event_of_a_listener_that_dies_goes_to_another_supervisord,
    event_of_a_listener_that_dies_goes_to_another_rinit
);

/// buffer_size=2 and a listener that takes one event and never answers:
/// the third and fourth buffered events each discard the oldest, with
/// supervisord's ERRO line; at shutdown the stuck listener's own event goes
/// back into the full buffer and discards one more.
fn buffer_overflow(init: Init) {
    let dir = TempDir::new("ev-overflow");
    let log = dir.join("stuck.log");
    // The first run lasts 2 s, so that the listener is RUNNING (startsecs=1)
    // before the first event; then four quick unexpected exits.
    let flap = format!(
        "sh -c 'n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; \
         [ \"$n\" -ge 5 ] && exec sleep 100000; [ \"$n\" -eq 0 ] && sleep 1; sleep 1.2; exit 3'",
        c = dir.join("count").display()
    );
    let conf = config(
        &dir,
        "",
        &format!(
            "[program:flap]\ncommand={flap}\nautorestart=true\n\n\
             [eventlistener:stuck]\ncommand={PY} {} {}\nevents=PROCESS_STATE_EXITED\nbuffer_size=2\n",
            fx("stuck.py"),
            log.display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_nth("WARN exited: flap (exit status 3; not expected)", 5, secs(30));
    r.wait_nth(
        "INFO success: flap entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        6,
        secs(10),
    );
    term_and_expect_0(&mut r);
    assert_eq!(lines_of(&log), ["got 0"]);
    let all = r.lines();
    // Each overflow is logged when the event is queued, before the exit's
    // own log line.
    assert_sequence(
        &all,
        &["ERRO {*}", "WARN exited: flap {*}", "WARN received {*}"],
        &[
            "WARN exited: flap (exit status 3; not expected)",
            "WARN exited: flap (exit status 3; not expected)",
            "WARN exited: flap (exit status 3; not expected)",
            "ERRO pool stuck event buffer overflowed, discarding event 1",
            "WARN exited: flap (exit status 3; not expected)",
            "ERRO pool stuck event buffer overflowed, discarding event 2",
            "WARN exited: flap (exit status 3; not expected)",
            "WARN received SIGTERM indicating exit request",
            "ERRO pool stuck event buffer overflowed, discarding event 3",
        ],
    );
}
both!(
    buffer_overflow,
    buffer_overflow_discards_the_oldest_event_supervisord,
    buffer_overflow_discards_the_oldest_event_rinit
);

// ---------------------------------------------------------------------------
// Differential: the recording listener under both inits
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// REMOTE_COMMUNICATION
// ---------------------------------------------------------------------------

/// `supervisor.sendRemoteCommEvent(type, data)` over the control interface
/// (supervisor's own XML-RPC client) reaches a listener subscribed to
/// REMOTE_COMMUNICATION as `type:T\nDATA`.
fn remote_communication(init: Init) {
    let dir = TempDir::new("ev-remote");
    let got = dir.join("payload");
    let listener = dir.join("listener.py");
    std::fs::write(
        &listener,
        format!(
            "import sys\n\
             i, o = sys.stdin.buffer, sys.stdout.buffer\n\
             while True:\n\
             \x20   o.write(b'READY\\n'); o.flush()\n\
             \x20   h = dict(t.split(b':', 1) for t in i.readline().split())\n\
             \x20   data = i.read(int(h[b'len']))\n\
             \x20   open({:?}, 'ab').write(h[b'eventname'] + b' ' + repr(data).encode() + b'\\n')\n\
             \x20   o.write(b'RESULT 2\\nOK'); o.flush()\n",
            got.display().to_string()
        ),
    )
    .unwrap();
    let conf = config(
        &dir,
        "",
        &format!(
            "{}\n[eventlistener:remote]\ncommand={PY} {}\nevents=REMOTE_COMMUNICATION\n",
            control_sections(&dir),
            listener.display()
        ),
    );
    let mut r = start(init, &dir, &conf, &[]);
    r.wait_rec(
        "INFO success: remote entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)",
        WAIT,
    );
    let send = format!(
        "import xmlrpc.client\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         t = SupervisorTransport(None, None, 'unix://{}')\n\
         s = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=t)\n\
         print(s.supervisor.sendRemoteCommEvent('deploy', 'version 42'))\n",
        dir.join("supervisor.sock").display()
    );
    let out = std::process::Command::new(PY)
        .args(["-c", &send])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "True\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = wait_lines(&r, &got, 1, WAIT);
    assert_eq!(lines, ["REMOTE_COMMUNICATION b'type:deploy\\nversion 42'"]);
    term_and_expect_0(&mut r);
}
both!(
    remote_communication,
    remote_communication_reaches_listeners_supervisord,
    remote_communication_reaches_listeners_rinit,
    Need::Cmd("python3")
);

/// A listener that says READY and then never reads its stdin, while a
/// program floods PROCESS_LOG events: the envelope rinit cannot write waits
/// for the pipe (at most one per listener), and PID 1 goes on supervising:
/// a crashing program is still restarted and TERM still ends everything.
#[test]
fn a_listener_that_never_reads_its_stdin_does_not_stall_pid1() {
    require!(Need::PidNamespaces);
    let dir = TempDir::new("ev-stall");
    let conf = config(
        &dir,
        "",
        "[eventlistener:deaf]\ncommand=sh -c 'printf \"READY\\n\"; exec sleep 100000'\n\
         events=PROCESS_LOG\nbuffer_size=5\nstartsecs=0\n\n\
         [program:flood]\ncommand=sh -c 'yes 0123456789abcdef0123456789abcdef | head -c 50000000; exec sleep 100000'\n\
         stdout_events_enabled=true\nstdout_logfile=NONE\n\n\
         [program:crash]\ncommand=sh -c 'sleep 0.3; exit 3'\nstartsecs=0\n",
    );
    let mut r = start(Init::Rinit, &dir, &conf, &[]);
    // The program keeps being restarted while the listener is stuck.
    r.wait_nth("WARN exited: crash (exit status 3; not expected)", 4, secs(20));
    // Events kept coming (and the full buffer dropped the oldest).
    r.wait_rec(
        "ERRO pool deaf event buffer overflowed, discarding event {N}",
        secs(20),
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(secs(20)), 0, "{}", r.lines().join("\n"));
}

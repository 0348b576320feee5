//! The control interface (docs/control.md): the real `supervisorctl`
//! against rinit as PID 1 of a PID namespace, auth on the wire, and
//! hostile clients that must not delay supervision.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A config with a unix socket server, `[supervisorctl]`, a main log file
/// and `programs`.
fn ctl_config(dir: &TempDir, server_extra: &str, programs: &str) -> String {
    format!(
        "[supervisord]\nnodaemon=true\nlogfile={log}\npidfile={pid}\n\n\
         [unix_http_server]\nfile={sock}\n{server_extra}\n\n\
         [supervisorctl]\nserverurl=unix://{sock}\n\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         {programs}\n",
        log = dir.join("main.log").display(),
        pid = dir.join("p.pid").display(),
        sock = dir.join("s.sock").display(),
    )
}

fn wait_socket(dir: &TempDir) {
    let sock = dir.join("s.sock");
    poll(WAIT, "the control socket", || {
        UnixStream::connect(&sock).ok().map(|_| ())
    });
}

/// `supervisorctl -c CONF ARGS…`: (stdout, exit code).
fn ctl(dir: &TempDir, args: &[&str]) -> (String, i32) {
    client(&["supervisorctl"], dir, args)
}

/// `rinit ctl -c CONF ARGS…`.
fn rctl(dir: &TempDir, args: &[&str]) -> (String, i32) {
    client(&[BIN, "ctl"], dir, args)
}

fn client(cmd: &[&str], dir: &TempDir, args: &[&str]) -> (String, i32) {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .arg("-c")
        .arg(dir.join("supervisord.conf"))
        .args(args)
        .output()
        .expect("run supervisorctl (apt package supervisor)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.code().unwrap_or(-1))
}

/// Replace pids, uptimes and dates so outputs compare across runs.
fn normalize(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut words: Vec<String> = Vec::new();
        for w in line.split(' ') {
            let t = w.trim_end_matches(',');
            if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
                words.push(w.replace(t, "N"));
            } else if t.contains(':') && t.chars().all(|c| c.is_ascii_digit() || c == ':') {
                words.push("T".into());
            } else {
                words.push(w.to_string());
            }
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

fn start(tag: &str, server_extra: &str, programs: &str) -> (TempDir, Rinit) {
    let dir = TempDir::new(tag);
    let conf = ctl_config(&dir, server_extra, programs);
    let r = Rinit::start(&dir, &conf);
    wait_socket(&dir);
    (dir, r)
}

const PROGRAMS: &str = "\
[program:web]\ncommand=sleep 1000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n\
[program:quick]\ncommand=sh -c \"exit 3\"\nstartsecs=1\nstartretries=0\nautostart=false\nstdout_logfile=NONE\n\
[program:nope]\ncommand=/nonexistent/prog\nautostart=false\n\
[group:g]\nprograms=a,b\n\
[program:a]\ncommand=sh -c 'trap \"\" USR1; exec sleep 1000'\nstartsecs=0\nstdout_logfile=NONE\n\
[program:b]\ncommand=sh -c 'trap \"\" USR1; exec sleep 1000'\nstartsecs=0\nstdout_logfile=NONE\n";

/// The supervisorctl session both inits get (a and b ignore SIGUSR1, so
/// `signal USR1 g:*` changes no state). Every command returns only
/// once the state it asked for is reached, so the transcript is
/// deterministic.
const SESSION: &[&[&str]] = &[
    &["status"],
    &["status", "web", "g:*"],
    &["status", "foo"],
    &["stop", "web"],
    &["status", "web"],
    &["stop", "web"],
    &["start", "web"],
    &["start", "web"],
    &["restart", "g:*"],
    &["restart", "web"],
    &["start", "quick"],
    &["status", "quick"],
    &["start", "nope"],
    &["start", "foo"],
    &["stop", "foo"],
    &["signal", "USR1", "quick"],
    &["signal", "BOGUS", "web"],
    &["signal", "HUP", "foo"],
    &["signal", "USR1", "g:*"],
    &["pid"],
    &["pid", "a"],
    &["pid", "g:a"],
    &["pid", "quick"],
    &["version"],
    &["tail", "web"],
    &["tail", "foo"],
    &["clear", "web"],
    &["clear", "foo"],
    &["avail"],
    &["stop", "all"],
    &["status"],
    &["start", "g:*"],
    &["start", "all"],
];

/// Run `SESSION`; the transcript has each command, its normalized output
/// and its exit status.
fn transcript(dir: &TempDir, run: fn(&TempDir, &[&str]) -> (String, i32)) -> String {
    let mut t = String::new();
    for cmd in SESSION {
        let (out, code) = run(dir, cmd);
        let mut out = normalize(&out);
        // A group's results come in completion order, which varies from
        // run to run under supervisord itself.
        if cmd.iter().any(|w| *w == "all" || w.ends_with(":*")) {
            let mut lines: Vec<&str> = out.lines().collect();
            lines.sort();
            out = lines.iter().map(|l| format!("{l}\n")).collect();
        }
        t.push_str(&format!(
            "$ supervisorctl {}  [exit {}]\n{}",
            cmd.join(" "),
            code,
            out
        ));
    }
    t
}

/// supervisord on the same config, killed on drop.
struct Supervisord(std::process::Child);

impl Drop for Supervisord {
    fn drop(&mut self) {
        // SAFETY: plain kill of our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

#[test]
fn supervisorctl_session_matches_supervisord() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let sdir = TempDir::new("sctl-ref");
    let conf = sdir.write("supervisord.conf", &ctl_config(&sdir, "", PROGRAMS), false);
    let child = Command::new("supervisord")
        .args(["-n", "-c"])
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run supervisord (apt package supervisor)");
    let sd = Supervisord(child);
    wait_socket(&sdir);
    poll(WAIT, "supervisord's programs running", || {
        let (s, _) = ctl(&sdir, &["status"]);
        (s.matches("RUNNING").count() == 3).then_some(())
    });
    let expected = transcript(&sdir, ctl);
    drop(sd);

    let (dir, mut r) = start("sctl", "", PROGRAMS);
    poll(WAIT, "rinit's programs running", || {
        let (s, _) = ctl(&dir, &["status"]);
        (s.matches("RUNNING").count() == 3).then_some(())
    });
    let got = transcript(&dir, ctl);
    assert_eq!(got, expected, "rinit's transcript differs from supervisord's");

    // `rinit ctl` on a fresh rinit prints what supervisorctl printed.
    let (dir2, _r2) = start("sctl-rinit-ctl", "", PROGRAMS);
    poll(WAIT, "rinit's programs running", || {
        let (s, _) = rctl(&dir2, &["status"]);
        (s.matches("RUNNING").count() == 3).then_some(())
    });
    let got = transcript(&dir2, rctl);
    assert_eq!(
        got, expected,
        "rinit ctl's transcript differs from supervisorctl's"
    );

    // Stopping everything does not end rinit: a program can be started again.
    ctl(&dir, &["stop", "all"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        r.running(),
        "rinit exited with nothing running although a control interface is configured"
    );
    let (s, _) = ctl(&dir, &["maintail"]);
    assert!(s.contains("INFO spawned: 'web' with pid"), "{s}");
    assert_eq!(ctl(&dir, &["start", "web"]), ("web: started\n".into(), 0));
    assert_eq!(ctl(&dir, &["shutdown"]), ("Shut down\n".into(), 0));
    assert_eq!(r.wait_exit(Duration::from_secs(15)), 0);
    assert!(
        !Path::new(&dir.join("s.sock")).exists(),
        "socket file left behind"
    );
}

#[test]
fn tail_reads_a_program_log_file() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let dir = TempDir::new("tail");
    let log = dir.join("w.log");
    let programs = format!(
        "[program:w]\ncommand=sh -c 'echo hello; echo oops >&2; exec sleep 1000'\nstdout_logfile={}\nstderr_logfile={}\n",
        log.display(),
        dir.join("w.err").display()
    );
    let conf = ctl_config(&dir, "", &programs);
    let _r = Rinit::start(&dir, &conf);
    wait_socket(&dir);
    poll(WAIT, "the program's output in its log", || {
        std::fs::read_to_string(&log).ok().filter(|s| s.contains("hello"))
    });
    assert_eq!(ctl(&dir, &["tail", "w"]), ("hello\n\n".into(), 0));
    assert_eq!(ctl(&dir, &["tail", "-3", "w"]), ("lo\n\n".into(), 0));
    poll(WAIT, "stderr in its log", || {
        std::fs::read_to_string(dir.join("w.err"))
            .ok()
            .filter(|s| s.contains("oops"))
    });
    assert_eq!(ctl(&dir, &["tail", "w", "stderr"]), ("oops\n\n".into(), 0));
    assert_eq!(ctl(&dir, &["clear", "w"]), ("w: cleared\n".into(), 0));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
}

/// `tail -f` streams what is appended (a chunked GET /logtail/NAME), with
/// supervisorctl and with `rinit ctl`.
#[test]
fn tail_f_follows_a_growing_log() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    use std::io::BufRead;
    let dir = TempDir::new("tailf");
    let programs = format!(
        "[program:w]\ncommand=sh -c 'i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done'\nstdout_logfile={}\n",
        dir.join("w.log").display()
    );
    let conf = ctl_config(&dir, "", &programs);
    let _r = Rinit::start(&dir, &conf);
    wait_socket(&dir);
    poll(WAIT, "the log file", || std::fs::metadata(dir.join("w.log")).ok());
    for client in [&["supervisorctl"][..], &[BIN, "ctl"]] {
        let mut child = Command::new(client[0])
            .args(&client[1..])
            .arg("-c")
            .arg(dir.join("supervisord.conf"))
            .args(["tail", "-f", "w"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        while seen.len() < 8 {
            match rx.recv_timeout(WAIT) {
                Ok(l) => seen.push(l),
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            seen.first().map(String::as_str),
            Some("==> Press Ctrl-C to exit <==")
        );
        let nums: Vec<u32> = seen
            .iter()
            .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
            .collect();
        assert!(nums.len() >= 6, "{seen:?}");
        assert!(
            nums.windows(2).all(|w| w[1] == w[0] + 1),
            "lines out of order: {seen:?}"
        );
    }
}

/// Send `req` on a fresh connection; return the whole answer.
fn raw(dir: &TempDir, req: &[u8]) -> String {
    let mut s = UnixStream::connect(dir.join("s.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn post(body: &str, auth: Option<&str>) -> Vec<u8> {
    let mut r = format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        r.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

const VERSION_CALL: &str =
    "<?xml version='1.0'?><methodCall><methodName>supervisor.getAPIVersion</methodName><params></params></methodCall>";

#[test]
fn auth_none_wrong_right_get_401_401_200() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    // user:secret, the password stored as {SHA} of "secret".
    let (dir, _r) = start(
        "auth",
        "username=user\npassword={SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4",
        "[program:web]\ncommand=sleep 1000\n",
    );
    let none = raw(&dir, &post(VERSION_CALL, None));
    assert!(none.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{none}");
    assert!(!none.contains("3.0"), "{none}");
    // "user:wrong"
    let wrong = raw(&dir, &post(VERSION_CALL, Some("dXNlcjp3cm9uZw==")));
    assert!(wrong.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{wrong}");
    // "user:secret"
    let right = raw(&dir, &post(VERSION_CALL, Some("dXNlcjpzZWNyZXQ=")));
    assert!(right.starts_with("HTTP/1.1 200 OK\r\n"), "{right}");
    assert!(
        right.ends_with("<value><string>3.0</string></value>\n</param>\n</params>\n</methodResponse>\n"),
        "{right}"
    );
    // supervisorctl without credentials in its section.
    let (s, _) = ctl(&dir, &["status"]);
    assert!(s.starts_with("Server requires authentication\n"), "{s}");
}

#[test]
fn socket_mode_is_0700_by_default_and_chmod_applies_with_supervisords_startup_lines() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    use std::os::unix::fs::PermissionsExt;
    let (dir, r) = start("mode", "", "[program:web]\ncommand=sleep 1000\n");
    let mode = std::fs::metadata(dir.join("s.sock"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    // supervisord's start-up lines for a server.
    r.wait_rec("INFO RPC interface 'supervisor' initialized", WAIT);
    r.wait_rec(
        "CRIT Server 'unix_http_server' running without any HTTP authentication checking",
        WAIT,
    );
    let (dir2, _r2) = start(
        "mode2",
        "chmod=0766\nchown=nobody:nogroup",
        "[program:web]\ncommand=sleep 1000\n",
    );
    let mode = std::fs::metadata(dir2.join("s.sock"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o766);
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir2.join("s.sock")).unwrap();
    let nogroup = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("nogroup:x:")?
                .split(':')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .expect("group nogroup");
    assert_eq!((meta.uid(), meta.gid()), (passwd_entry("nobody").0, nogroup));
}

#[test]
fn hostile_clients_get_bounded_answers_and_supervision_continues() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    // `orph` leaves an orphan to rinit every 300 ms.
    let (dir, r) = start(
        "hostile",
        "",
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\n\
         [program:orph]\ncommand=sh -c 'while true; do (sleep 0.1 &); sleep 0.3; done'\nstartsecs=0\n",
    );
    r.wait_rec("INFO success: web entered RUNNING state{*}", WAIT);
    let sock = dir.join("s.sock");
    // 100 idle connections.
    let idle: Vec<UnixStream> = (0..100).map(|_| UnixStream::connect(&sock).unwrap()).collect();
    // One client that sends a byte a second.
    let slow_sock = sock.clone();
    let slow = std::thread::spawn(move || {
        let mut s = UnixStream::connect(&slow_sock).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let t0 = Instant::now();
        let req = post(VERSION_CALL, None);
        let mut out = Vec::new();
        for b in req.iter().take(40) {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(950));
        }
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.read_to_end(&mut out);
        (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
    });
    // An oversized request, a DTD with entities, garbage.
    let big = raw(&dir, b"POST /RPC2 HTTP/1.0\r\nContent-Length: 999999999\r\n\r\n");
    assert!(big.starts_with("HTTP/1.1 413 "), "{big}");
    let bomb =
        "<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]>\
                <methodCall><methodName>&b;</methodName></methodCall>";
    let answer = raw(&dir, &post(bomb, None));
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let garbage = raw(&dir, b"\x00\x01\x02 nonsense\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    // Meanwhile a program killed restarts at once (past the 1-s guard
    // between spawns), and supervisorctl still works.
    std::thread::sleep(Duration::from_millis(1100));
    let pid = r.host_pid_of("web");
    kill(pid, libc::SIGKILL);
    let exited = r.wait_rec("WARN exited: web (terminated by SIGKILL; not expected)", WAIT);
    let spawned = r.wait_nth("INFO spawned: 'web' with pid {N}", 2, WAIT);
    r.wait_nth("INFO success: web entered RUNNING state{*}", 2, WAIT);
    // Reported, not asserted tightly (timings flake on a loaded CI host).
    let latency = spawned.ms - exited.ms;
    eprintln!("restart latency with 100 idle + 1 slow client: {latency} ms");
    assert!(
        latency < 500,
        "restart took {latency} ms while clients were connected"
    );
    let (s, _) = ctl(&dir, &["status", "web"]);
    assert!(s.contains("RUNNING"), "{s}");
    let (answer, took) = slow.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "slow client: {answer:?}");
    assert!(took < Duration::from_secs(20), "slow client held {took:?}");
    // Past the connection cap, the least recently active idle connection
    // makes room: a new client is still served.
    let more: Vec<UnixStream> = (0..40).map(|_| UnixStream::connect(&sock).unwrap()).collect();
    let (s, _) = ctl(&dir, &["status", "web"]);
    assert!(s.contains("RUNNING"), "{s}");
    drop(more);
    // Orphans are still reaped while all these clients are connected.
    let reaped = r.count("INFO reaped unknown pid {N} (exit status 0)");
    r.wait_nth("INFO reaped unknown pid {N} (exit status 0)", reaped + 2, WAIT);
    drop(idle);
    assert!(r
        .lines()
        .iter()
        .any(|l| l.contains("control request from unix socket refused: HTTP 413")));
}

#[test]
fn inet_http_server_serves_supervisorctl() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let dir = TempDir::new("inet");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = format!(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\npidfile={}\n\
         [inet_http_server]\nport=127.0.0.1:{port}\nusername=u\npassword=p\n\
         [supervisorctl]\nserverurl=http://127.0.0.1:{port}\nusername=u\npassword=p\n\
         [program:web]\ncommand=sleep 1000\nstartsecs=0\n",
        dir.join("p.pid").display()
    );
    let r = Rinit::start(&dir, &conf);
    r.wait_rec("INFO success: web entered RUNNING state{*}", WAIT);
    poll(WAIT, "the inet server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    });
    let (s, code) = ctl(&dir, &["status"]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        normalize(&s),
        "web                              RUNNING   pid N, uptime T\n"
    );
}

/// With no server, both clients print the same error and exit status;
/// rinit invoked as `supervisorctl` is `rinit ctl`.
#[test]
fn rinit_ctl_matches_supervisorctl_without_a_server() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let dir = TempDir::new("noserver");
    dir.write(
        "supervisord.conf",
        &ctl_config(&dir, "", "[program:web]\ncommand=sleep 1\n"),
        false,
    );
    let alias = dir.join("supervisorctl");
    std::os::unix::fs::symlink(BIN, &alias).unwrap();
    let alias = alias.display().to_string();
    // Every action rinit ctl implements has supervisorctl's own help text.
    let topics = [
        "add", "avail", "clear", "exit", "maintail", "pid", "quit", "reload", "remove", "reread", "restart",
        "shutdown", "signal", "start", "status", "stop", "tail", "update", "version", "help", "bogus",
    ];
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["start", "web"],
        vec!["stop", "all"],
        vec!["pid"],
        vec!["tail", "web"],
        vec!["bogus"],
    ];
    cases.extend(topics.iter().map(|t| vec!["help", *t]));
    for args in cases.iter().map(|c| &c[..]) {
        let expected = ctl(&dir, args);
        assert_eq!(rctl(&dir, args), expected, "rinit ctl {args:?}");
        assert_eq!(
            client(&[&alias], &dir, args),
            expected,
            "rinit as supervisorctl {args:?}"
        );
    }
}

/// A configured server, even with an idle keep-alive connection open, adds
/// no wake-up: rinit sleeps in poll until something happens.
#[test]
fn an_idle_control_interface_adds_no_wakeups() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let (dir, r) = start("idle", "", "[program:web]\ncommand=sleep 1000\nstartsecs=0\n");
    r.wait_rec("INFO success: web entered RUNNING state{*}", WAIT);
    // One keep-alive connection that made a request and stays open.
    let mut s = UnixStream::connect(dir.join("s.sock")).unwrap();
    let body = VERSION_CALL;
    let req = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("Connection: keep-alive"));
    std::thread::sleep(Duration::from_millis(200));
    let before = r.ctxt_switches();
    std::thread::sleep(Duration::from_secs(3));
    let after = r.ctxt_switches();
    assert_eq!(
        after - before,
        0,
        "rinit woke up {} times in 3 s of idleness",
        after - before
    );
    drop(s);
}

/// superlance's httpok (installed by .ci/run in /opt/rinit-venv)
/// restarts a program through rinit's API when its URL does not answer.
/// A real TICK_60 may be a minute away, so the test plays the event
/// dispatcher: it sends httpok one TICK_60 event on stdin (tests/events.rs
/// runs superlance as real listeners).
#[test]
fn superlance_httpok_restarts_a_program_through_rinit() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    use std::io::BufRead;
    let httpok = "/opt/rinit-venv/bin/httpok";
    assert!(
        Path::new(httpok).exists(),
        "{httpok} missing: .ci/run installs superlance into /opt/rinit-venv"
    );
    let (dir, r) = start("httpok", "", "[program:web]\ncommand=sleep 1000\nstartsecs=0\n");
    r.wait_rec("INFO success: web entered RUNNING state{*}", WAIT);
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(httpok)
        .args(["-p", "web", "-t", "2", &format!("http://127.0.0.1:{port}/")])
        .env(
            "SUPERVISOR_SERVER_URL",
            format!("unix://{}", dir.join("s.sock").display()),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "READY\n");
    let payload = "when:1700000000";
    let header = format!(
        "ver:3.0 server:supervisor serial:1 pool:httpok poolserial:1 eventname:TICK_60 len:{}\n",
        payload.len()
    );
    stdin.write_all(header.as_bytes()).unwrap();
    stdin.write_all(payload.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut result = String::new();
    out.read_line(&mut result).unwrap();
    assert_eq!(result, "RESULT 2\n");
    r.wait_rec("WARN stopped: web (terminated by SIGTERM)", WAIT);
    r.wait_nth("INFO spawned: 'web' with pid {N}", 2, WAIT);
    drop(stdin);
    let _ = child.kill();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Restarting selected processes ['web']"), "{err}");
}

/// Without a command, both clients run a shell: `status`, then commands
/// read after `supervisor> ` prompts; exit status 0.
#[test]
fn rinit_ctl_shell_matches_supervisorctl_shell() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let (dir, r) = start("shell", "", "[program:web]\ncommand=sleep 1000\nstartsecs=0\n");
    r.wait_rec("INFO success: web entered RUNNING state{*}", WAIT);
    let run = |cmd: &[&str]| {
        let mut child = Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("-c")
            .arg(dir.join("supervisord.conf"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"pid web\nbogus\nversion\n")
            .unwrap();
        let o = child.wait_with_output().unwrap();
        (normalize(&String::from_utf8_lossy(&o.stdout)), o.status.code())
    };
    let expected = run(&["supervisorctl"]);
    assert_eq!(run(&[BIN, "ctl"]), expected);
}

/// Two requests in one write on a keep-alive connection get two answers;
/// a client that half-closes after its request still gets its answer.
#[test]
fn pipelined_and_half_closed_requests_are_answered() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let (dir, _r) = start("pipe", "", "[program:web]\ncommand=sleep 1000\n");
    let one = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{VERSION_CALL}",
        VERSION_CALL.len()
    );
    let mut s = UnixStream::connect(dir.join("s.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{one}{one}").as_bytes()).unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while got.matches("</methodResponse>").count() < 2 {
        let n = s.read(&mut buf).expect("second pipelined answer");
        assert!(n > 0, "closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "{got}");
    let mut h = UnixStream::connect(dir.join("s.sock")).unwrap();
    h.write_all(&post(VERSION_CALL, None)).unwrap();
    h.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    h.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK") && out.contains("<string>3.0</string>"),
        "{out}"
    );
}

/// Regression: with every connection slot held by a partial request, a new
/// client waiting in the listen backlog must not make rinit spin on the
/// readable listener; once the partial requests time out it is served.
#[test]
fn full_connection_table_of_partial_requests_does_not_spin() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let (dir, r) = start("full", "", "[program:web]\ncommand=sleep 1000\nstartsecs=0\n");
    r.wait_rec("INFO success: web entered RUNNING state{*}", WAIT);
    let sock = dir.join("s.sock");
    let partial: Vec<UnixStream> = (0..128)
        .map(|_| {
            let mut s = UnixStream::connect(&sock).unwrap();
            s.write_all(b"P").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut late = UnixStream::connect(&sock).unwrap();
    late.write_all(&post(VERSION_CALL, None)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = r.ctxt_switches();
    std::thread::sleep(Duration::from_secs(1));
    let woke = r.ctxt_switches() - before;
    assert!(
        woke < 20,
        "rinit woke {woke} times in 1 s with a full connection table"
    );
    late.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = String::new();
    let res = late.read_to_string(&mut out);
    assert!(
        out.starts_with("HTTP/1.1 200 OK"),
        "late client: {out:?} {res:?}\n{}",
        r.lines().join("\n")
    );
    drop(partial);
}

/// A request pipelined behind a large answer that the socket cannot take at
/// once is answered after it, and that answer arrives whole.
#[test]
fn a_pipelined_request_does_not_cut_a_large_answer_short() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let (dir, _r) = start(
        "bigpipe",
        "",
        "[program:p]\ncommand=sleep 1000\nnumprocs=1000\nprocess_name=%(program_name)s_%(process_num)s\nautostart=false\n",
    );
    let call = |m: &str| {
        let body = format!(
            "<?xml version='1.0'?><methodCall><methodName>{m}</methodName><params></params></methodCall>"
        );
        format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let mut s = UnixStream::connect(dir.join("s.sock")).unwrap();
    s.write_all(call("supervisor.getAllConfigInfo").as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(call("supervisor.getAPIVersion").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 65536];
    while String::from_utf8_lossy(&got).matches("</methodResponse>").count() < 2 {
        let n = s.read(&mut buf).expect("both answers");
        assert!(n > 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    let first_len: usize = text
        .split("Content-Length: ")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(first_len > 500_000, "answer too small to test: {first_len}");
    let body_start = text.find("\r\n\r\n").unwrap() + 4;
    let first_body = &text[body_start..body_start + first_len];
    assert_eq!(first_body.matches("<name>process_prio</name>").count(), 1000);
    assert!(first_body.ends_with("</methodResponse>\n"));
    assert!(text[body_start + first_len..].starts_with("HTTP/1.1 200 OK"));
    assert!(text.ends_with("<value><string>3.0</string></value>\n</param>\n</params>\n</methodResponse>\n"));
}

/// As supervisord: a stale socket file is replaced; a socket something
/// still answers on stops the second init with exit status 2.
#[test]
fn stale_socket_is_replaced_and_a_live_one_refused() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let dir = TempDir::new("stale");
    std::fs::write(dir.join("s.sock"), "stale").unwrap();
    let conf = ctl_config(&dir, "", "[program:web]\ncommand=sleep 1000\n");
    let _r = Rinit::start(&dir, &conf);
    wait_socket(&dir);
    let second = TempDir::new("stale2");
    let conf2 = ctl_config(&second, "", "[program:web]\ncommand=sleep 1000\n").replace(
        &second.join("s.sock").display().to_string(),
        &dir.join("s.sock").display().to_string(),
    );
    let mut r2 = Rinit::start(&second, &conf2);
    assert_eq!(r2.wait_exit(WAIT), 2);
    let out = r2.lines().join("\n");
    assert!(
        out.contains("Error: Another program is already listening on a port that one of our HTTP servers is configured to use."),
        "{out}"
    );
    // The first one still serves.
    let (s, _) = ctl(&dir, &["status"]);
    assert!(s.starts_with("web "), "{s}");
}

/// A config and the edit the reload tests apply: one group removed, one
/// changed, one added, one unchanged.
const BEFORE: &str = "[program:keep]\ncommand=sleep 1001\nstartsecs=0\n\
                      [program:gone]\ncommand=sleep 1002\nstartsecs=0\n\
                      [program:edit]\ncommand=sleep 1003\nstartsecs=0\n";
const AFTER: &str = "[program:keep]\ncommand=sleep 1001\nstartsecs=0\n\
                     [program:edit]\ncommand=sleep 1004\nstartsecs=0\n\
                     [program:new]\ncommand=sleep 1005\nstartsecs=0\n";

fn all_running(dir: &TempDir, n: usize) {
    poll(WAIT, "every program running", || {
        let (s, _) = ctl(dir, &["status"]);
        (s.matches("RUNNING").count() == n && !s.contains("STOPPED")).then_some(())
    });
}

/// supervisord on `conf` in `dir`, its socket up and `n` programs running.
fn supervisord_on(dir: &TempDir, programs: &str, n: usize) -> Supervisord {
    let conf = dir.write("supervisord.conf", &ctl_config(dir, "", programs), false);
    let child = Command::new("supervisord")
        .args(["-n", "-c"])
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run supervisord (apt package supervisor)");
    let sd = Supervisord(child);
    wait_socket(dir);
    all_running(dir, n);
    sd
}

/// rinit's SIGHUP (a documented deviation: supervisord restarts
/// everything) ends in the states that `supervisorctl reread` + `update`
/// give under supervisord: the same programs, all running, the unchanged
/// one with its old pid.
#[test]
fn hup_ends_where_update_ends_under_supervisord() {
    require!(
        Need::PidNamespaces,
        Need::Cmd("supervisord"),
        Need::Cmd("supervisorctl")
    );
    let sdir = TempDir::new("hup-ref");
    let sd = supervisord_on(&sdir, BEFORE, 3);
    sdir.write("supervisord.conf", &ctl_config(&sdir, "", AFTER), false);
    ctl(&sdir, &["update"]);
    all_running(&sdir, 3);
    let expected = normalize(&ctl(&sdir, &["status"]).0);
    drop(sd);

    let (dir, mut r) = start("hup-vs-update", "", BEFORE);
    all_running(&dir, 3);
    let keep = ctl(&dir, &["pid", "keep"]).0;
    let tmp = dir.write("supervisord.conf.new", &ctl_config(&dir, "", AFTER), false);
    std::fs::rename(tmp, dir.join("supervisord.conf")).unwrap();
    r.signal(libc::SIGHUP);
    r.wait_rec("INFO reload: added group new", WAIT);
    all_running(&dir, 3);
    assert_eq!(normalize(&ctl(&dir, &["status"]).0), expected);
    assert_eq!(
        ctl(&dir, &["pid", "keep"]).0,
        keep,
        "the unchanged program kept its pid"
    );
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(Duration::from_secs(15)), 0);
}

/// `reread`, `update`, `add` and `remove` after an edit that removes,
/// changes and adds groups (docs/reload.md): supervisorctl prints what it
/// prints against supervisord, the programs end in the same states, and
/// `rinit ctl` prints the same.
#[test]
fn reread_and_update_match_supervisord() {
    require!(
        Need::PidNamespaces,
        Need::Cmd("supervisord"),
        Need::Cmd("supervisorctl")
    );
    fn session(dir: &TempDir, run: fn(&TempDir, &[&str]) -> (String, i32)) -> String {
        let mut t = String::new();
        let step = |t: &mut String, cmd: &[&str]| {
            let (out, code) = run(dir, cmd);
            t.push_str(&format!(
                "$ {}  [exit {code}]\n{}",
                cmd.join(" "),
                normalize(&out)
            ));
        };
        step(&mut t, &["reread"]);
        dir.write("supervisord.conf", &ctl_config(dir, "", AFTER), false);
        step(&mut t, &["reread"]);
        step(&mut t, &["update"]);
        all_running(dir, 3);
        step(&mut t, &["status"]);
        step(&mut t, &["reread"]);
        step(&mut t, &["update"]);
        step(&mut t, &["add", "new"]);
        step(&mut t, &["add", "nosuch"]);
        step(&mut t, &["remove", "keep"]);
        step(&mut t, &["remove", "nosuch"]);
        step(&mut t, &["stop", "keep"]);
        step(&mut t, &["remove", "keep"]);
        step(&mut t, &["status"]);
        step(&mut t, &["reread"]);
        step(&mut t, &["add", "keep"]);
        t
    }
    let sdir = TempDir::new("reread-ref");
    let sd = supervisord_on(&sdir, BEFORE, 3);
    let expected = session(&sdir, ctl);
    drop(sd);

    for run in [ctl as fn(&TempDir, &[&str]) -> (String, i32), rctl] {
        let (dir, mut r) = start("reread", "", BEFORE);
        all_running(&dir, 3);
        let got = session(&dir, run);
        assert_eq!(
            got, expected,
            "rinit's reread/update transcript differs from supervisord's"
        );
        r.signal(libc::SIGTERM);
        assert_eq!(r.wait_exit(Duration::from_secs(15)), 0);
    }
}

/// Regression: `start all` spawned every process in one pass of the loop
/// (numprocs=1000 held PID 1 for seconds); now the starts go in bounded
/// batches and a TERM sent during them is served before they end.
#[test]
fn start_all_of_many_is_spawned_in_batches_and_a_term_is_served_meanwhile() {
    require!(Need::PidNamespaces, Need::Cmd("supervisorctl"));
    let (dir, mut r) = start(
        "startall",
        "",
        "[program:many]\ncommand=sleep 1000\nnumprocs=600\nprocess_name=%(program_name)s_%(process_num)s\n\
         autostart=false\nstartsecs=0\nstdout_logfile=NONE\n",
    );
    let mut client = Command::new("supervisorctl")
        .arg("-c")
        .arg(dir.join("supervisord.conf"))
        .args(["start", "all"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("supervisorctl");
    r.wait_rec("INFO spawned: 'many_0' with pid {N}", WAIT);
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(Duration::from_secs(60)), 0);
    let _ = client.wait();
    let (before, after) = spawns_around(&r.recs(), "WARN received SIGTERM indicating exit request");
    assert!(before < 600, "all {before} starts came before the TERM was read");
    assert_eq!(after, 0, "spawns after the exit request");
}

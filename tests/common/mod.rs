//! Helpers for rinit's PID-1 integration tests (issue #3).
//!
//! A test starts the built binary as PID 1 of a fresh PID namespace:
//! `unshare --pid --fork --mount-proc --kill-child rinit -c CONF`, with
//! stdout and stderr piped and read by threads into one shared line list.
//! It drives rinit from outside (signals to rinit's host pid; kills of a
//! program's current pid, mapped from the namespace pid of the latest
//! `spawned:` line to a host pid through `NSpid:`), and every wait has a
//! timeout. The [`Rinit`] guard kills everything it started when dropped.
//!
//! A test that cannot run here (not root, no `unshare`, a missing package)
//! starts with [`require!`]: it prints one `SKIPPED` line and passes, or
//! fails when `RINIT_REQUIRE_ALL=1` (CI) so that nothing is skipped there.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rinit");

/// Default timeout for one wait.
pub const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Preconditions: test tiers
// ---------------------------------------------------------------------------

/// Something a test needs from the machine beyond a plain `cargo test` by a
/// non-root developer. See [`require!`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Effective uid 0.
    Root,
    /// `unshare --pid --fork --mount-proc` works (root, util-linux): rinit
    /// runs as PID 1 of a fresh PID namespace.
    PidNamespaces,
    /// A program on PATH, usually from a Debian package (`supervisord`,
    /// `python3`, `cc`, a benchmark peer such as `tini`).
    Cmd(&'static str),
    /// A Docker engine that answers `docker info`.
    Docker,
}

/// The environment variable that turns every skip into a failure (CI sets it
/// in .ci/run, so CI runs every tier).
pub const REQUIRE_ALL: &str = "RINIT_REQUIRE_ALL";

/// Why `need` is not met on this machine, or `None` when it is. Each need is
/// checked once per test binary.
pub fn unmet(need: Need) -> Option<String> {
    use std::sync::OnceLock;
    static ROOT: OnceLock<Option<String>> = OnceLock::new();
    static NS: OnceLock<Option<String>> = OnceLock::new();
    static DOCKER: OnceLock<Option<String>> = OnceLock::new();
    match need {
        Need::Root => ROOT.get_or_init(check_root).clone(),
        Need::PidNamespaces => NS.get_or_init(check_pid_namespaces).clone(),
        Need::Cmd(cmd) => on_path(cmd)
            .is_none()
            .then(|| format!("`{cmd}` is not on PATH (install its Debian package; .ci/run does)")),
        Need::Docker => DOCKER.get_or_init(check_docker).clone(),
    }
}

fn check_root() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    (euid != 0).then(|| format!("needs root (euid is {euid})"))
}

fn check_pid_namespaces() -> Option<String> {
    if let Some(why) = check_root() {
        return Some(format!("{why} to create PID namespaces with unshare"));
    }
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "needs PID namespaces: `unshare --pid --fork --mount-proc true` failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("needs `unshare` (util-linux) for PID namespaces: {e}")),
    }
}

fn check_docker() -> Option<String> {
    let out = Command::new("docker")
        .arg("info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match out {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("needs a Docker engine: `docker info` failed ({s})")),
        Err(e) => Some(format!("needs a Docker engine: cannot run `docker`: {e}")),
    }
}

/// The first directory of PATH holding an executable file `cmd`.
pub fn on_path(cmd: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Whether the test `what` (in `file`) must be skipped for lack of `needs`.
/// When something is missing it prints ONE line to the real stderr (past the
/// test harness's capture, so a passing test still shows it) and returns
/// true; with `RINIT_REQUIRE_ALL=1` it panics with that line instead.
pub fn skip_unless(file: &str, what: &str, needs: &[Need]) -> bool {
    let missing: Vec<String> = needs.iter().filter_map(|n| unmet(*n)).collect();
    if missing.is_empty() {
        return false;
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let test = if what.is_empty() {
        test
    } else {
        format!("{test} ({what})")
    };
    let line = format!("SKIPPED {file}: {test}: {}", missing.join("; "));
    if std::env::var(REQUIRE_ALL).is_ok_and(|v| v == "1") {
        panic!("{line} [{REQUIRE_ALL}=1 makes every skip a failure]");
    }
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    true
}

/// `require!(Need::A, Need::B)`: return from the calling test (which then
/// passes) after printing one `SKIPPED` line when the machine lacks one of
/// the needs; a failure instead under `RINIT_REQUIRE_ALL=1`. The test's
/// first statement.
#[allow(unused_macros)] // not every test file has a test that needs more
macro_rules! require {
    ($($need:expr),+ $(,)?) => {
        if $crate::common::skip_unless(file!(), "", &[$($need),+]) {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require;

/// Panic (never skip) when PID namespaces cannot be used. The helpers that
/// start rinit as PID 1 call it as a last guard; a test itself starts with
/// `require!(Need::PidNamespaces)`, which skips instead.
pub fn require_pid_namespaces() {
    if let Some(why) = unmet(Need::PidNamespaces) {
        panic!("{why}; start the test with `require!(Need::PidNamespaces);` to skip it instead");
    }
}

/// Serializes the tests that measure timing or load the machine heavily.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------

/// A directory under /tmp, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("rinit-it-{}-{}-{}", std::process::id(), n, tag));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write a file (mode 0755 when `exec`).
    pub fn write(&self, name: &str, text: &str, exec: bool) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.join(name);
        std::fs::write(&p, text).expect("write temp file");
        let mode = if exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A config: the `[supervisord]` section every test uses, then `programs`.
pub fn config(dir: &TempDir, supervisord_extra: &str, programs: &str) -> String {
    format!(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\npidfile={}\n{}\n{}\n",
        dir.join("p.pid").display(),
        supervisord_extra.trim(),
        programs.trim()
    )
}

// ---------------------------------------------------------------------------
// Output capture
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

#[derive(Default)]
struct Lines {
    lines: Vec<(Stream, String)>,
    closed: usize,
}

/// Lines read from a child's stdout and stderr, shared with reader threads.
#[derive(Clone)]
pub struct Capture {
    inner: Arc<(Mutex<Lines>, Condvar)>,
}

impl Capture {
    pub fn new() -> Capture {
        Capture {
            inner: Arc::new((Mutex::new(Lines::default()), Condvar::new())),
        }
    }

    /// Read `r` line by line on a thread until EOF.
    pub fn attach<R: Read + Send + 'static>(&self, r: R, which: Stream) {
        let me = self.clone();
        std::thread::spawn(move || {
            let mut rd = BufReader::new(r);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match rd.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        let (m, cv) = &*me.inner;
                        m.lock().unwrap().lines.push((which, line));
                        cv.notify_all();
                    }
                }
            }
            let (m, cv) = &*me.inner;
            m.lock().unwrap().closed += 1;
            cv.notify_all();
        });
    }

    /// Every line so far, both streams, in arrival order. Two threads read
    /// the two pipes, so the order is exact within a stream only: a line of
    /// stderr can land anywhere among the stdout lines written near it.
    /// Adjacency checks that involve stderr use `stream(Stream::Err)`.
    pub fn all(&self) -> Vec<String> {
        self.inner
            .0
            .lock()
            .unwrap()
            .lines
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    pub fn stream(&self, which: Stream) -> Vec<String> {
        self.inner
            .0
            .lock()
            .unwrap()
            .lines
            .iter()
            .filter(|(s, _)| *s == which)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Wait until `pred` holds for the list of lines; returns its value.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&[String]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.inner;
        let mut g = m.lock().unwrap();
        loop {
            let lines: Vec<String> = g.lines.iter().map(|(_, l)| l.clone()).collect();
            if let Some(v) = pred(&lines) {
                return v;
            }
            let now = Instant::now();
            if now >= deadline {
                drop(g);
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- output so far ---\n{}",
                    lines.join("\n")
                );
            }
            g = cv
                .wait_timeout(g, (deadline - now).min(Duration::from_millis(200)))
                .unwrap()
                .0;
        }
    }

    /// Wait for both streams to reach EOF (bounded).
    pub fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.inner;
        let mut g = m.lock().unwrap();
        while g.closed < 2 && Instant::now() < deadline {
            g = cv.wait_timeout(g, Duration::from_millis(50)).unwrap().0;
        }
    }
}

impl Default for Capture {
    fn default() -> Self {
        Capture::new()
    }
}

// ---------------------------------------------------------------------------
// Activity-log lines
// ---------------------------------------------------------------------------

/// One activity-log record: `YYYY-MM-DD HH:MM:SS,mmm LEVEL message`.
#[derive(Clone, Debug)]
pub struct Rec {
    /// Milliseconds since 1970 in local wall-clock terms (only differences matter).
    pub ms: i64,
    pub level: String,
    pub msg: String,
}

impl Rec {
    /// `LEVEL message`, the form the tests compare.
    pub fn text(&self) -> String {
        format!("{} {}", self.level, self.msg)
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parse an activity-log record strictly (supervisord's format, see src/log.rs);
/// anything else (program output) is `None`.
pub fn parse_rec(line: &str) -> Option<Rec> {
    let b = line.as_bytes();
    if b.len() < 29 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = line.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let sep_ok = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b','
        && b[23] == b' ';
    if !sep_ok {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, mi, s, ms) = (digits(11..13)?, digits(14..16)?, digits(17..19)?, digits(20..23)?);
    let level = line.get(24..28)?;
    if !["CRIT", "ERRO", "WARN", "INFO", "DEBG", "TRAC", "BLAT"].contains(&level) || b[28] != b' ' {
        return None;
    }
    let t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s;
    Some(Rec {
        ms: t * 1000 + ms,
        level: level.to_string(),
        msg: line[29..].to_string(),
    })
}

/// Every activity-log record among `lines`.
pub fn recs(lines: &[String]) -> Vec<Rec> {
    lines.iter().filter_map(|l| parse_rec(l)).collect()
}

/// Does `text` match `pattern`? In a pattern `{N}` stands for one decimal
/// number, `{*}` for any text (possibly empty); everything else is literal.
pub fn matches(pattern: &str, text: &str) -> bool {
    match_caps(pattern, text).is_some()
}

/// The numbers that the `{N}`s of `pattern` matched, in order.
pub fn captures(pattern: &str, text: &str) -> Vec<i64> {
    match_caps(pattern, text).unwrap_or_else(|| panic!("{text:?} does not match {pattern:?}"))
}

fn match_caps(pattern: &str, text: &str) -> Option<Vec<i64>> {
    if let Some(rest) = pattern.strip_prefix("{N}") {
        let n = text.bytes().take_while(|c| c.is_ascii_digit()).count();
        for len in (1..=n).rev() {
            if let Some(mut caps) = match_caps(rest, &text[len..]) {
                caps.insert(0, text[..len].parse().ok()?);
                return Some(caps);
            }
        }
        return None;
    }
    if let Some(rest) = pattern.strip_prefix("{*}") {
        for i in 0..=text.len() {
            if let Some(t) = text.get(i..) {
                if let Some(caps) = match_caps(rest, t) {
                    return Some(caps);
                }
            }
        }
        return None;
    }
    let lit_end = [pattern.find("{N}"), pattern.find("{*}")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(pattern.len());
    if lit_end == 0 {
        return if text.is_empty() { Some(Vec::new()) } else { None };
    }
    let lit = &pattern[..lit_end];
    let rest = text.strip_prefix(lit)?;
    if lit_end == pattern.len() {
        return if rest.is_empty() { Some(Vec::new()) } else { None };
    }
    match_caps(&pattern[lit_end..], rest)
}

/// The records whose `LEVEL message` matches one of `patterns`.
/// How many `spawned:` records come before and after the first record
/// whose text is `line` (which must be there).
pub fn spawns_around(recs: &[Rec], line: &str) -> (usize, usize) {
    let at = recs
        .iter()
        .position(|x| x.text() == line)
        .unwrap_or_else(|| panic!("no record {line:?}"));
    let count = |rs: &[Rec]| {
        rs.iter()
            .filter(|x| matches("INFO spawned: {*}", &x.text()))
            .count()
    };
    (count(&recs[..at]), count(&recs[at..]))
}

pub fn select(recs: &[Rec], patterns: &[&str]) -> Vec<Rec> {
    recs.iter()
        .filter(|r| patterns.iter().any(|p| matches(p, &r.text())))
        .cloned()
        .collect()
}

/// Assert that the records matching any of `patterns` are, in order,
/// exactly `expected` (patterns with `{N}`), and return them.
pub fn assert_sequence(all: &[String], patterns: &[&str], expected: &[&str]) -> Vec<Rec> {
    let got = select(&recs(all), patterns);
    let ok = got.len() == expected.len() && got.iter().zip(expected).all(|(r, e)| matches(e, &r.text()));
    assert!(
        ok,
        "unexpected lifecycle lines\n--- expected ---\n{}\n--- got ---\n{}\n--- full output ---\n{}",
        expected.join("\n"),
        got.iter().map(Rec::text).collect::<Vec<_>>().join("\n"),
        all.join("\n")
    );
    got
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

/// A process as seen from the host.
#[derive(Clone, Debug)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub state: char,
    pub comm: String,
}

pub fn read_proc(pid: i32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let mut f = text[close + 1..].split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        pgrp,
        state,
        comm,
    })
}

pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A `Key:` line of /proc/PID/status, value trimmed.
pub fn status_field(pid: i32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// The pid namespace a process is in (`/proc/PID/ns/pid` link target).
pub fn pid_ns(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|p| p.display().to_string())
}

/// The open fd numbers of a process.
pub fn fds(pid: i32) -> BTreeSet<i32> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Host pid of every process whose parent is `pid` (all threads' children).
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// Poll `f` every 10 ms until it returns `Some`, or panic after `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn kill(pid: i32, sig: i32) {
    assert!(pid > 0, "refusing to kill({pid})");
    // SAFETY: plain system call on a positive pid.
    let r = unsafe { libc::kill(pid, sig) };
    assert_eq!(r, 0, "kill({pid}, {sig}): {}", std::io::Error::last_os_error());
}

// ---------------------------------------------------------------------------
// rinit as PID 1
// ---------------------------------------------------------------------------

/// A running `unshare … rinit …` with its output captured. Dropping it
/// SIGKILLs rinit (which ends its whole namespace) and the unshare process.
pub struct Rinit {
    child: Option<Child>,
    pub out: Capture,
    /// rinit's pid on the host (the child of the unshare process).
    pub host_pid: i32,
    ns: String,
    status: Option<ExitStatus>,
}

/// How to start the namespace: `unshare` argv, optionally behind a launcher.
#[derive(Default)]
pub struct Launch {
    /// Words placed before `unshare …`.
    pub prefix: Vec<String>,
    /// Words placed between `unshare …` and rinit: a launcher that runs as
    /// PID 1, changes the inherited state, then execs rinit (which stays PID 1).
    pub inner_prefix: Vec<String>,
    pub rinit_args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The launcher fixture that execs its command with a dirty inherited state.
pub const DIRTY_EXEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/runtime/dirty_exec.py"
);

impl Rinit {
    /// `rinit -c CONF` as PID 1, CONF written into `dir`.
    pub fn start(dir: &TempDir, conf: &str) -> Rinit {
        Rinit::launch(Launch {
            rinit_args: Rinit::conf_args(dir, conf),
            ..Launch::default()
        })
    }

    /// Write `conf` into `dir`; returns `["-c", PATH]`.
    pub fn conf_args(dir: &TempDir, conf: &str) -> Vec<String> {
        let path = dir.write("supervisord.conf", conf, false);
        vec!["-c".into(), path.display().to_string()]
    }

    pub fn launch(l: Launch) -> Rinit {
        require_pid_namespaces();
        let mut argv: Vec<String> = l.prefix.clone();
        argv.extend(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"].map(String::from));
        argv.extend(l.inner_prefix.iter().cloned());
        argv.push(BIN.to_string());
        argv.extend(l.rinit_args.iter().cloned());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &l.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {argv:?}: {e}"));
        let out = Capture::new();
        out.attach(child.stdout.take().unwrap(), Stream::Out);
        out.attach(child.stderr.take().unwrap(), Stream::Err);
        let launcher = child.id() as i32;
        let mut r = Rinit {
            child: Some(child),
            out,
            host_pid: 0,
            ns: String::new(),
            status: None,
        };
        // The unshare process (possibly after the launcher's exec) forks
        // rinit; find that child and check it is PID 1 of a new namespace.
        let my_ns = pid_ns(std::process::id() as i32).unwrap_or_default();
        // A rinit that is already gone (a short-lived single-mode child)
        // leaves host_pid 0: only its exit status and output can be checked.
        let found = poll(WAIT, "rinit to appear as the child of unshare", || {
            for c in children(launcher) {
                let Some(ns) = pid_ns(c) else { continue };
                if ns != my_ns
                    && status_field(c, "NSpid").is_some_and(|v| v.ends_with("\t1") || v.ends_with(" 1"))
                {
                    return Some(Some((c, ns)));
                }
            }
            if let Some(ch) = r.child.as_mut() {
                if let Ok(Some(st)) = ch.try_wait() {
                    r.status = Some(st);
                    r.out.wait_closed(Duration::from_secs(2));
                    return Some(None);
                }
            }
            None
        });
        if let Some((host_pid, ns)) = found {
            r.host_pid = host_pid;
            r.ns = ns;
        }
        r
    }

    pub fn lines(&self) -> Vec<String> {
        self.out.all()
    }

    pub fn recs(&self) -> Vec<Rec> {
        recs(&self.out.all())
    }

    /// Wait for a record matching `pattern` (`LEVEL message`, `{N}` = number).
    pub fn wait_rec(&self, pattern: &str, timeout: Duration) -> Rec {
        self.wait_nth(pattern, 1, timeout)
    }

    /// Wait until `n` records match `pattern`; returns the `n`-th.
    pub fn wait_nth(&self, pattern: &str, n: usize, timeout: Duration) -> Rec {
        self.out
            .wait_until(timeout, &format!("{n} line(s) matching {pattern:?}"), |lines| {
                recs(lines)
                    .into_iter()
                    .filter(|r| matches(pattern, &r.text()))
                    .nth(n - 1)
            })
    }

    pub fn count(&self, pattern: &str) -> usize {
        self.recs().iter().filter(|r| matches(pattern, &r.text())).count()
    }

    /// Wait for any output line (log or program output) equal to `line`.
    pub fn wait_output(&self, pred: impl Fn(&str) -> bool, what: &str, timeout: Duration) -> String {
        self.out
            .wait_until(timeout, what, |lines| lines.iter().find(|l| pred(l)).cloned())
    }

    /// The namespace pid of the latest `spawned: 'NAME' with pid N`.
    pub fn ns_pid_of(&self, name: &str) -> i32 {
        let pat = format!("INFO spawned: '{name}' with pid {{N}}");
        let r = self
            .recs()
            .into_iter()
            .rfind(|r| matches(&pat, &r.text()))
            .unwrap_or_else(|| panic!("no spawned line for {name}:\n{}", self.lines().join("\n")));
        captures(&pat, &r.text())[0] as i32
    }

    /// Every process in rinit's namespace: (host pid, namespace pid).
    pub fn ns_procs(&self) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        for pid in all_pids() {
            if pid_ns(pid).as_deref() != Some(self.ns.as_str()) {
                continue;
            }
            if let Some(v) = status_field(pid, "NSpid") {
                if let Some(last) = v.split_whitespace().last().and_then(|x| x.parse().ok()) {
                    out.push((pid, last));
                }
            }
        }
        out
    }

    /// Host pid of namespace pid `ns_pid` (waits briefly for /proc).
    pub fn host_of(&self, ns_pid: i32) -> i32 {
        poll(
            Duration::from_secs(3),
            &format!("namespace pid {ns_pid} in /proc"),
            || {
                self.ns_procs()
                    .into_iter()
                    .find(|(_, n)| *n == ns_pid)
                    .map(|(h, _)| h)
            },
        )
    }

    /// Host pid of the current process of program `name`.
    pub fn host_pid_of(&self, name: &str) -> i32 {
        self.host_of(self.ns_pid_of(name))
    }

    /// Send `sig` to rinit.
    pub fn signal(&self, sig: i32) {
        assert!(
            self.host_pid > 0,
            "rinit exited before it could be found:\n{}",
            self.lines().join("\n")
        );
        kill(self.host_pid, sig);
    }

    /// Wait for the unshare process to end; returns rinit's exit code
    /// (unshare passes it through), or panics on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let st = self.wait_status(timeout);
        st.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            panic!(
                "rinit died of signal {:?}:\n{}",
                st.signal(),
                self.lines().join("\n")
            )
        })
    }

    pub fn wait_status(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = self.status {
            return s;
        }
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("child");
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.status = Some(st);
                self.out.wait_closed(Duration::from_secs(2));
                return st;
            }
            if Instant::now() >= deadline {
                panic!(
                    "rinit did not exit within {timeout:?}:\n{}",
                    self.out.all().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the unshare process is still running.
    pub fn running(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(Ok(Some(st))) => {
                self.status = Some(st);
                false
            }
            _ => false,
        }
    }

    /// Read rinit's voluntary + nonvoluntary context switches.
    pub fn ctxt_switches(&self) -> u64 {
        let v: u64 = status_field(self.host_pid, "voluntary_ctxt_switches")
            .unwrap()
            .parse()
            .unwrap();
        let n: u64 = status_field(self.host_pid, "nonvoluntary_ctxt_switches")
            .unwrap()
            .parse()
            .unwrap();
        v + n
    }
}

impl Drop for Rinit {
    fn drop(&mut self) {
        if self.status.is_none() {
            if self.host_pid > 0 && pid_ns(self.host_pid).as_deref() == Some(self.ns.as_str()) {
                // SAFETY: kill of our own descendant; killing PID 1 of the
                // namespace makes the kernel kill everything in it.
                unsafe { libc::kill(self.host_pid, libc::SIGKILL) };
            }
            if let Some(c) = self.child.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Users and groups (for `user=`)
// ---------------------------------------------------------------------------

/// (uid, primary gid, supplementary gids incl. primary) of `name` from
/// /etc/passwd and /etc/group.
pub fn passwd_entry(name: &str) -> (u32, u32, BTreeSet<u32>) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let fields: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .unwrap_or_else(|| panic!("no user {name} in /etc/passwd"));
    let uid: u32 = fields[2].parse().unwrap();
    let gid: u32 = fields[3].parse().unwrap();
    let mut groups = BTreeSet::from([gid]);
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
            if let Ok(g) = f[2].parse() {
                groups.insert(g);
            }
        }
    }
    (uid, gid, groups)
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}

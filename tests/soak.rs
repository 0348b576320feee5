//! Soak: rinit as PID 1 under a long mix of everything that happens to an
//! init (tests/soak/README.md). 40 steady programs are SIGKILLed at random,
//! 5 crash-loop, 5 leave orphans behind, and rinit itself gets a stream of
//! harmless signals. It checks that
//! - every kill produced exactly one `exited` line for that program;
//! - no zombie child of rinit is ever older than 100 ms (not counting the
//!   time rinit waited for a CPU on a loaded machine);
//! - rinit's RSS stays within 64 KiB and its fd count is unchanged, from
//!   the end of the warm-up to the end;
//! - SIGTERM at the end exits 0 within stopwaitsecs + 1 s.
//!
//! `cargo test` runs it for 60 s; `RINIT_SOAK_SECS=N` sets the duration
//! (tests/soak/run.sh defaults to 10 minutes).

mod common;

use common::*;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const STEADY: usize = 40;
const CRASHERS: usize = 5;
const ORPHANERS: usize = 5;
const STOPWAITSECS: u64 = 2;
/// A zombie child of rinit older than this is a failure.
const ZOMBIE_LIMIT: Duration = Duration::from_millis(100);
/// Allowed RSS change after the warm-up.
const RSS_SLACK_KB: i64 = 64;

/// xorshift64*: a reproducible random stream without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn soak_config(dir: &TempDir) -> String {
    let mut programs = String::new();
    for i in 0..STEADY {
        programs.push_str(&format!(
            "[program:steady{i:02}]\ncommand=sleep 100000\nautorestart=true\nstopwaitsecs={STOPWAITSECS}\n"
        ));
    }
    for i in 0..CRASHERS {
        // Up less than startsecs=0 would allow forever: a crash loop at the
        // 1-s restart guard, never FATAL.
        programs.push_str(&format!(
            "[program:crash{i}]\ncommand=sh -c 'sleep 0.{i}; exit 3'\nstartsecs=0\nautorestart=true\n\
             stopwaitsecs={STOPWAITSECS}\n"
        ));
    }
    for i in 0..ORPHANERS {
        // The inner shell exits at once: its `sleep` is re-parented to rinit
        // and reaped by it when it ends.
        programs.push_str(&format!(
            "[program:orphaner{i}]\ncommand=sh -c 'while :; do sh -c \"sleep 0.{} &\"; sleep 0.2; done'\n\
             stopwaitsecs={STOPWAITSECS}\n",
            i + 1
        ));
    }
    config(dir, "", &programs)
}

fn vm_rss_kb(pid: i32) -> i64 {
    status_field(pid, "VmRSS")
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(-1)
}

/// How long `pid` has waited runnable for a CPU in all (the second field
/// of /proc/PID/schedstat).
fn run_delay(pid: i32) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|t| t.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Where each of `pid`'s descriptors points, for a failure message.
fn fd_targets(pid: i32) -> Vec<String> {
    fds(pid)
        .into_iter()
        .map(|fd| {
            let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!("{fd} -> {target}")
        })
        .collect()
}

/// The soak's duration: `RINIT_SOAK_SECS`, else 60 s.
fn duration() -> Duration {
    let secs = std::env::var("RINIT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// What the test knows of one steady program from rinit's log.
#[derive(Default)]
struct Steady {
    /// Namespace pid of the running process, once `success:` says it is
    /// RUNNING and no kill is pending.
    armed: Option<i32>,
    kills: usize,
}

#[test]
fn soak_kills_crash_loops_orphans_and_signals() {
    require!(Need::PidNamespaces);
    let total = duration();
    let warmup = (total / 4).min(Duration::from_secs(30));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("soak: {} s, seed {seed}", total.as_secs());
    let mut rng = Rng(seed);
    let dir = TempDir::new("soak");
    let mut r = Rinit::start(&dir, &soak_config(&dir));
    r.wait_nth("INFO success: steady{*}", STEADY, Duration::from_secs(30));
    let host = r.host_pid;

    let mut steady: BTreeMap<String, Steady> = (0..STEADY)
        .map(|i| (format!("steady{i:02}"), Steady::default()))
        .collect();
    let spawned = "INFO spawned: '{*}' with pid {N}";
    let mut current_pid: HashMap<String, i32> = HashMap::new();
    let mut cursor = 0;
    // Zombies of rinit by host pid: when first seen, and rinit's run-queue
    // wait then.
    let mut zombies: HashMap<i32, (Instant, Duration)> = HashMap::new();
    let mut worst_zombie = Duration::ZERO;
    let mut worst_zombie_raw = Duration::ZERO;
    let mut baseline: Option<(i64, usize)> = None;
    let mut rss_range = (i64::MAX, i64::MIN);
    let mut signals_sent = 0usize;
    let harmless = [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGCHLD,
        libc::SIGWINCH,
        libc::SIGALRM,
        libc::SIGPIPE,
    ];

    let start = Instant::now();
    let mut next_kill = start;
    let mut next_signal = start;
    let mut next_sample = start;
    while start.elapsed() < total {
        let now = Instant::now();
        assert!(
            r.running(),
            "rinit ended during the soak:\n{}",
            r.lines().join("\n")
        );

        // Follow the log from where the last pass stopped.
        let lines = r.lines();
        for rec in recs(&lines[cursor..]) {
            let text = rec.text();
            if matches(spawned, &text) {
                let name = text["INFO spawned: '".len()..]
                    .split('\'')
                    .next()
                    .unwrap_or("")
                    .to_string();
                current_pid.insert(name, captures(spawned, &text)[0] as i32);
            } else if let Some(rest) = text.strip_prefix("INFO success: ") {
                let name = rest.split(' ').next().unwrap_or("");
                if let Some(s) = steady.get_mut(name) {
                    s.armed = current_pid.get(name).copied();
                }
            }
        }
        cursor = lines.len();

        // Zombies: sampled every 20 ms from rinit's children. The time rinit
        // sat runnable waiting for a CPU (a loaded machine) is not its
        // doing, and is taken off the age.
        let delay = run_delay(host);
        for c in children(host) {
            match read_proc(c) {
                Some(p) if p.state == 'Z' => {
                    let (seen, delay0) = *zombies.entry(c).or_insert((now, delay));
                    let raw = now - seen;
                    let age = raw.saturating_sub(delay.saturating_sub(delay0));
                    worst_zombie = worst_zombie.max(age);
                    worst_zombie_raw = worst_zombie_raw.max(raw);
                    assert!(
                        age <= ZOMBIE_LIMIT,
                        "zombie {c} ({}) is {age:?} old ({raw:?} with rinit's wait for a CPU) (seed {seed})",
                        p.comm
                    );
                }
                _ => {
                    zombies.remove(&c);
                }
            }
        }
        zombies.retain(|pid, _| read_proc(*pid).is_some_and(|p| p.state == 'Z'));

        if now >= next_kill {
            let armed: Vec<String> = steady
                .iter()
                .filter(|(_, s)| s.armed.is_some())
                .map(|(n, _)| n.clone())
                .collect();
            if !armed.is_empty() {
                let name = &armed[rng.below(armed.len() as u64) as usize];
                if let Some(s) = steady.get_mut(name) {
                    if let Some(ns) = s.armed.take() {
                        kill(r.host_of(ns), libc::SIGKILL);
                        s.kills += 1;
                    }
                }
            }
            next_kill = now + Duration::from_millis(50 + rng.below(250));
        }
        if now >= next_signal {
            let sig = harmless[rng.below(harmless.len() as u64) as usize];
            r.signal(sig);
            signals_sent += 1;
            next_signal = now + Duration::from_millis(100 + rng.below(400));
        }
        if now >= next_sample {
            let rss = vm_rss_kb(host);
            let nfds = fds(host).len();
            if start.elapsed() >= warmup {
                let (rss0, fds0) = *baseline.get_or_insert((rss, nfds));
                rss_range = (rss_range.0.min(rss), rss_range.1.max(rss));
                assert!(
                    (rss - rss0).abs() <= RSS_SLACK_KB,
                    "rinit's RSS went from {rss0} kB to {rss} kB (seed {seed})"
                );
                if nfds != fds0 {
                    // A fork's exec-status pipe or a /proc scan holds an fd
                    // for a moment: only a count that stays changed counts.
                    let settled = (0..20).any(|_| {
                        std::thread::sleep(Duration::from_millis(5));
                        fds(host).len() == fds0
                    });
                    assert!(
                        settled,
                        "rinit's fd count went from {fds0} to {nfds}: {:?} (seed {seed})",
                        fd_targets(host)
                    );
                }
            }
            next_sample = now + Duration::from_millis(500);
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // Let the last kills be logged, then stop.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    r.signal(libc::SIGTERM);
    let code = r.wait_exit(Duration::from_secs(STOPWAITSECS + 1));
    let stop_time = t.elapsed();
    assert_eq!(code, 0, "exit status after SIGTERM (seed {seed})");

    let all = r.recs();
    let mut kills = 0;
    for (name, s) in &steady {
        let exited = all
            .iter()
            .filter(|x| x.text() == format!("WARN exited: {name} (terminated by SIGKILL; not expected)"))
            .count();
        assert_eq!(
            exited, s.kills,
            "{name}: {} kills, {exited} exited lines (seed {seed})",
            s.kills
        );
        kills += s.kills;
    }
    let count = |p: &str| all.iter().filter(|x| matches(p, &x.text())).count();
    let crashes = count("WARN exited: crash{N} (exit status 3; not expected)");
    let orphans = count("INFO reaped unknown pid {N} ({*})");
    let (rss0, fds0) = baseline.unwrap_or((-1, 0));
    eprintln!(
        "soak figures: {} s, {kills} kills, {crashes} crash-loop exits, {orphans} orphans reaped, \
         {signals_sent} signals to rinit; oldest zombie seen {} ms ({} ms with rinit's wait for a CPU); RSS {rss0} kB at warm-up, \
         {}..{} kB after; {fds0} fds; SIGTERM to exit {} ms",
        total.as_secs(),
        worst_zombie.as_millis(),
        worst_zombie_raw.as_millis(),
        rss_range.0,
        rss_range.1,
        stop_time.as_millis()
    );
    assert!(
        kills > 0 && crashes > 0 && orphans > 0,
        "the soak exercised nothing"
    );
}

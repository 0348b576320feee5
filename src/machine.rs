//! supervisord's process state machine (reference §2), without its
//! one-second loop: every rule is a deadline that fires at its exact time.
//!
//! This module is pure. It never reads a clock and never makes a system
//! call: callers pass `now` (monotonic milliseconds) and the facts they
//! observed (a spawn result, a wait status, how many processes are left in
//! a process group), and get back the `Action`s to perform. That keeps every
//! transition testable with a fake clock.

use crate::config::{AutoRestart, ProcessConfig, ShutdownOn};
use crate::log::Level;

/// Monotonic time in milliseconds.
pub type Millis = u64;

const SECOND: Millis = 1000;

/// supervisord's states (reference §2.1); UNKNOWN is not reachable here
/// because a failed `kill` other than ESRCH cannot happen to our own children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Stopped,
    Starting,
    Running,
    Backoff,
    Stopping,
    Exited,
    Fatal,
}

impl State {
    /// States that end a shutdown wait (supervisord's "stopped" class).
    pub fn is_stopped_class(self) -> bool {
        matches!(self, State::Stopped | State::Exited | State::Fatal)
    }
}

/// How a process ended, as `waitpid` told the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal { sig: i32, core: bool },
}

impl Exit {
    /// supervisord's `{status}` text (reference §1.4).
    pub fn describe(self) -> String {
        match self {
            Exit::Code(c) => format!("exit status {c}"),
            Exit::Signal { sig, core: false } => format!("terminated by {}", signal_name(sig)),
            Exit::Signal { sig, core: true } => {
                format!("terminated by {} (core dumped)", signal_name(sig))
            }
        }
    }

    /// The code compared with `exitcodes`: -1 for a signal death, so a
    /// signal death is never expected.
    fn code_for_expectation(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal { .. } => -1,
        }
    }

    /// The shell convention used for rinit's own exit status.
    pub fn as_status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal { sig, .. } => 128 + sig,
        }
    }
}

/// Linux signal names as supervisord prints them (one table: `signame.rs`).
pub use crate::signame::signal_name;

/// What the caller must do for the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write an activity-log record.
    Log(Level, String),
    /// Start the program now, then report `spawned` or `spawn_failed`.
    Spawn,
    /// `kill(pid, sig)`, or `kill(-pid, sig)` when `group`.
    Kill { pid: i32, sig: i32, group: bool },
    /// `shutdown_on` fired: shut everything down, exit with this status.
    Shutdown { status: i32 },
}

/// Why the process is in EXITED or FATAL, for rinit's own exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Never ended (still running, or never started).
    None,
    Exited {
        exit: Exit,
        expected: bool,
    },
    /// Could not be spawned at all (command not found …).
    SpawnFailed,
}

/// Leftover members of the previous process group, being stopped before a
/// respawn (rinit.md §3.1, "a restart is clean").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cleanup {
    pgid: i32,
    kill_at: Millis,
}

/// One supervised process: the configuration it runs and its state.
#[derive(Debug, Clone)]
pub struct Process {
    pub cfg: ProcessConfig,
    pub state: State,
    pub pid: Option<i32>,
    /// Time of the last spawn attempt.
    laststart: Option<Millis>,
    /// Consecutive failed starts (supervisord's `backoff`).
    backoff: u32,
    /// BACKOFF: retry time. STOPPING: SIGKILL time. STARTING: promotion time.
    delay: Option<Millis>,
    /// EXITED with a restart due at this time.
    restart_at: Option<Millis>,
    cleanup: Option<Cleanup>,
    /// Set by a shutdown: no more automatic starts of any kind.
    halted: bool,
    /// Stop and kill the whole process group whatever the config says.
    signal_group: bool,
    pub outcome: Outcome,
}

impl Process {
    pub fn new(cfg: ProcessConfig) -> Process {
        Process {
            cfg,
            state: State::Stopped,
            pid: None,
            laststart: None,
            backoff: 0,
            delay: None,
            restart_at: None,
            cleanup: None,
            halted: false,
            signal_group: false,
            outcome: Outcome::None,
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The pgid whose leftovers are being stopped, if any.
    pub fn cleanup_pgid(&self) -> Option<i32> {
        self.cleanup.map(|c| c.pgid)
    }

    /// An automatic (re)start may happen: no shutdown, and no leftover
    /// process group still being stopped.
    fn may_start(&self) -> bool {
        !self.halted && self.cleanup.is_none()
    }

    /// The earliest time this process needs `tick`.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut best: Option<Millis> = None;
        let mut consider = |t: Option<Millis>| {
            if let Some(t) = t {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        };
        // A deadline that `tick` would not act on must not be reported, or
        // the event loop would spin on it (a halted BACKOFF at shutdown).
        let may_start = self.may_start();
        match self.state {
            State::Starting | State::Stopping => consider(self.delay),
            State::Backoff if may_start => consider(self.delay),
            State::Exited if may_start => consider(self.restart_at),
            _ => {}
        }
        consider(self.cleanup.map(|c| c.kill_at));
        best
    }

    /// T1/T2: start at boot (autostart) or on request.
    pub fn start(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.halted || !matches!(self.state, State::Stopped | State::Exited | State::Fatal) {
            return;
        }
        self.begin_spawn(now, out);
    }

    fn begin_spawn(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.state = State::Starting;
        self.laststart = Some(now);
        self.restart_at = None;
        self.delay = None;
        self.pid = None;
        out.push(Action::Spawn);
    }

    /// The fork succeeded.
    pub fn spawned(&mut self, now: Millis, pid: i32, out: &mut Vec<Action>) {
        if self.state != State::Starting {
            return;
        }
        self.pid = Some(pid);
        // `now` is after the fork: startsecs and the 1-s restart guard count
        // from the moment the process exists.
        self.laststart = Some(now);
        self.outcome = Outcome::None;
        log(
            out,
            Level::Info,
            format!("spawned: '{}' with pid {}", self.cfg.name, pid),
        );
        if self.cfg.startsecs == 0 {
            // supervisord promotes on its next iteration, before it reaps:
            // `success` always precedes `exited` for startsecs=0.
            self.promote(out);
        } else {
            // "stayed up for more than startsecs", strictly.
            self.delay = Some(now + self.cfg.startsecs * SECOND + 1);
        }
    }

    /// T3: the spawn failed before or at fork.
    pub fn spawn_failed(&mut self, now: Millis, reason: &str, out: &mut Vec<Action>) {
        if self.state != State::Starting {
            return;
        }
        log(out, Level::Info, format!("spawnerr: {reason}"));
        self.outcome = Outcome::SpawnFailed;
        self.enter_backoff(now, out);
    }

    fn promote(&mut self, out: &mut Vec<Action>) {
        self.state = State::Running;
        self.delay = None;
        self.backoff = 0;
        log(
            out,
            Level::Info,
            format!(
                "success: {} entered RUNNING state, process has stayed up for > than {} seconds (startsecs)",
                self.cfg.name, self.cfg.startsecs
            ),
        );
    }

    fn enter_backoff(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.state = State::Backoff;
        self.pid = None;
        self.backoff += 1;
        if self.backoff > self.cfg.startretries {
            self.give_up(out);
            return;
        }
        self.delay = Some(now + Millis::from(self.backoff) * SECOND);
    }

    /// T10.
    fn give_up(&mut self, out: &mut Vec<Action>) {
        self.state = State::Fatal;
        self.delay = None;
        self.backoff = 0;
        log(
            out,
            Level::Info,
            format!(
                "gave up: {} entered FATAL state, too many start retries too quickly",
                self.cfg.name
            ),
        );
        if !self.halted && self.cfg.shutdown_on != ShutdownOn::Never {
            let status = match self.outcome {
                Outcome::Exited { exit, .. } => exit.as_status(),
                _ => 127,
            };
            out.push(Action::Shutdown { status });
        }
    }

    /// The main pid was reaped. `leftovers` is how many other processes
    /// are still in its process group.
    pub fn exited(&mut self, now: Millis, exit: Exit, leftovers: usize, out: &mut Vec<Action>) {
        let name = self.cfg.name.clone();
        let expected = self.cfg.exitcodes.contains(&exit.code_for_expectation());
        let old_pid = self.pid.take();
        match self.state {
            State::Stopping => {
                // T13: any death while stopping is a `stopped:`.
                self.state = State::Stopped;
                self.delay = None;
                let level = if expected { Level::Info } else { Level::Warn };
                log(out, level, format!("stopped: {} ({})", name, exit.describe()));
                self.outcome = Outcome::Exited { exit, expected: true };
            }
            State::Starting => {
                // T5: died before startsecs, whatever the code.
                log(
                    out,
                    Level::Warn,
                    format!("exited: {} ({}; not expected)", name, exit.describe()),
                );
                self.outcome = Outcome::Exited { exit, expected };
                self.policy_on_exit(exit, expected, out);
                self.enter_backoff(now, out);
                if self.state == State::Backoff && !self.halted {
                    self.plan_cleanup(now, old_pid, leftovers, out);
                }
            }
            State::Running => {
                // T8.
                let (level, word) = if expected {
                    (Level::Info, "expected")
                } else {
                    (Level::Warn, "not expected")
                };
                log(
                    out,
                    level,
                    format!("exited: {} ({}; {})", name, exit.describe(), word),
                );
                self.state = State::Exited;
                self.backoff = 0;
                self.outcome = Outcome::Exited { exit, expected };
                self.policy_on_exit(exit, expected, out);
                let restart = match self.cfg.autorestart {
                    AutoRestart::False => false,
                    AutoRestart::Unexpected => !expected,
                    AutoRestart::True => true,
                };
                if restart && !self.halted {
                    // T9 at once, but never two spawns less than 1 s apart.
                    let earliest = self.laststart.map_or(now, |t| t + SECOND);
                    self.restart_at = Some(now.max(earliest));
                    self.plan_cleanup(now, old_pid, leftovers, out);
                }
            }
            _ => {}
        }
    }

    /// `shutdown_on` (rinit.md §4) for an exit that is not a requested stop.
    fn policy_on_exit(&self, exit: Exit, expected: bool, out: &mut Vec<Action>) {
        if self.halted {
            return;
        }
        let fire = match self.cfg.shutdown_on {
            ShutdownOn::Any => true,
            ShutdownOn::Unexpected => !expected,
            ShutdownOn::Never | ShutdownOn::Fatal => false,
        };
        if fire {
            out.push(Action::Shutdown {
                status: exit.as_status(),
            });
        }
    }

    /// Stop what is left of the old process group before the respawn.
    fn plan_cleanup(&mut self, now: Millis, old_pid: Option<i32>, leftovers: usize, out: &mut Vec<Action>) {
        let Some(pgid) = old_pid else { return };
        if leftovers == 0 {
            return;
        }
        log(
            out,
            Level::Warn,
            format!(
                "stopping {} leftover process{} of {} (process group {}) before respawn",
                leftovers,
                if leftovers == 1 { "" } else { "es" },
                self.cfg.name,
                pgid
            ),
        );
        out.push(Action::Kill {
            pid: pgid,
            sig: self.cfg.stopsignal,
            group: true,
        });
        self.cleanup = Some(Cleanup {
            pgid,
            kill_at: now + self.cfg.stopwaitsecs * SECOND,
        });
    }

    /// The process group being cleaned up has no member left.
    pub fn group_gone(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.cleanup.take().is_some() {
            self.tick(now, out);
        }
    }

    /// Fire every deadline that is due at `now`.
    pub fn tick(&mut self, now: Millis, out: &mut Vec<Action>) {
        if let Some(c) = self.cleanup {
            if now >= c.kill_at {
                out.push(Action::Kill {
                    pid: c.pgid,
                    sig: libc::SIGKILL,
                    group: true,
                });
                self.cleanup = Some(Cleanup {
                    pgid: c.pgid,
                    kill_at: now + self.cfg.stopwaitsecs * SECOND,
                });
            }
        }
        let due = |t: Option<Millis>| t.is_some_and(|t| now >= t);
        match self.state {
            State::Starting if due(self.delay) => self.promote(out),
            State::Backoff if due(self.delay) && self.may_start() => self.begin_spawn(now, out),
            State::Exited if due(self.restart_at) && self.may_start() => self.begin_spawn(now, out),
            State::Stopping if due(self.delay) => {
                // T12, repeated every stopwaitsecs.
                if let Some(pid) = self.pid {
                    log(
                        out,
                        Level::Warn,
                        format!("killing '{}' ({}) with SIGKILL", self.cfg.name, pid),
                    );
                    out.push(self.kill_action(pid, libc::SIGKILL, self.cfg.killasgroup));
                }
                self.delay = Some(now + self.cfg.stopwaitsecs * SECOND);
            }
            _ => {}
        }
    }

    fn kill_action(&self, pid: i32, sig: i32, group_by_config: bool) -> Action {
        Action::Kill {
            pid,
            sig,
            group: group_by_config || self.signal_group,
        }
    }

    /// A stop request. `shutdown` means rinit is ending: no automatic start
    /// follows, BACKOFF turns FATAL silently (T15), and the whole process
    /// group gets the signals (rinit.md §3.4).
    pub fn stop(&mut self, now: Millis, shutdown: bool, out: &mut Vec<Action>) {
        if shutdown {
            self.halt();
            self.signal_group = true;
        }
        match self.state {
            State::Running | State::Starting => {
                let Some(pid) = self.pid else { return };
                let group = self.cfg.stopasgroup || self.signal_group;
                let how = if group { " process group" } else { "" };
                log(
                    out,
                    Level::Debg,
                    format!(
                        "killing {} (pid {}){} with signal {}",
                        self.cfg.name,
                        pid,
                        how,
                        signal_name(self.cfg.stopsignal)
                    ),
                );
                out.push(Action::Kill {
                    pid,
                    sig: self.cfg.stopsignal,
                    group,
                });
                self.state = State::Stopping;
                self.delay = Some(now + self.cfg.stopwaitsecs * SECOND);
            }
            State::Backoff if shutdown => {
                self.state = State::Fatal;
                self.delay = None;
                self.backoff = 0;
            }
            State::Backoff => {
                log(
                    out,
                    Level::Debg,
                    format!("Attempted to kill {}, which is in BACKOFF state.", self.cfg.name),
                );
                self.state = State::Stopped;
                self.delay = None;
            }
            _ => {}
        }
    }

    /// Shutdown has begun: no automatic start of any kind from now on, even
    /// before this process's priority batch is stopped (reference §2.1).
    pub fn halt(&mut self) {
        self.halted = true;
        self.restart_at = None;
    }

    /// A second exit request during shutdown: SIGKILL now, no more waiting.
    pub fn kill_now(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.state == State::Stopping {
            if let Some(pid) = self.pid {
                log(
                    out,
                    Level::Warn,
                    format!("killing '{}' ({}) with SIGKILL", self.cfg.name, pid),
                );
                out.push(Action::Kill {
                    pid,
                    sig: libc::SIGKILL,
                    group: true,
                });
                self.delay = Some(now + self.cfg.stopwaitsecs * SECOND);
            }
        }
        if let Some(c) = self.cleanup {
            out.push(Action::Kill {
                pid: c.pgid,
                sig: libc::SIGKILL,
                group: true,
            });
        }
    }

    /// Nothing more will happen to this process on its own (§3.5).
    pub fn is_settled(&self) -> bool {
        match self.state {
            State::Stopped | State::Fatal => true,
            // `halt` clears `restart_at`, so a halted EXITED is settled too.
            State::Exited => self.restart_at.is_none(),
            _ => false,
        }
    }

    /// For rinit's exit status when nothing is left to run.
    pub fn ended_well(&self) -> bool {
        match self.state {
            State::Fatal => false,
            _ => match self.outcome {
                Outcome::Exited { expected, .. } => expected,
                Outcome::SpawnFailed => false,
                Outcome::None => true,
            },
        }
    }
}

fn log(out: &mut Vec<Action>, level: Level, msg: String) {
    out.push(Action::Log(level, msg));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str) -> ProcessConfig {
        ProcessConfig::for_test(name, "x")
    }

    /// A fake world: a clock and pids, driving one process.
    struct Sim {
        p: Process,
        now: Millis,
        next_pid: i32,
        /// Spawns fail with this reason while set.
        fail: Option<String>,
        log: Vec<String>,
        kills: Vec<(i32, i32, bool)>,
        shutdowns: Vec<i32>,
    }

    impl Sim {
        fn new(c: ProcessConfig) -> Sim {
            Sim {
                p: Process::new(c),
                now: 0,
                next_pid: 100,
                fail: None,
                log: vec![],
                kills: vec![],
                shutdowns: vec![],
            }
        }

        fn run(&mut self, mut acts: Vec<Action>) {
            while !acts.is_empty() {
                let mut more = vec![];
                for a in acts {
                    match a {
                        Action::Log(l, m) => self.log.push(format!("{} {}", l.code(), m)),
                        Action::Spawn => {
                            if let Some(r) = self.fail.clone() {
                                self.p.spawn_failed(self.now, &r, &mut more);
                            } else {
                                self.next_pid += 1;
                                self.p.spawned(self.now, self.next_pid, &mut more);
                            }
                        }
                        Action::Kill { pid, sig, group } => self.kills.push((pid, sig, group)),
                        Action::Shutdown { status } => self.shutdowns.push(status),
                    }
                }
                acts = more;
            }
        }

        fn start(&mut self) {
            let mut a = vec![];
            self.p.start(self.now, &mut a);
            self.run(a);
        }

        /// Advance the clock, firing each deadline exactly when due.
        fn advance_to(&mut self, t: Millis) {
            while let Some(d) = self.p.next_deadline() {
                if d > t {
                    break;
                }
                self.now = self.now.max(d);
                let mut a = vec![];
                self.p.tick(self.now, &mut a);
                self.run(a);
            }
            self.now = t;
        }

        fn exit(&mut self, e: Exit, leftovers: usize) {
            let mut a = vec![];
            self.p.exited(self.now, e, leftovers, &mut a);
            self.run(a);
        }

        fn stop(&mut self, shutdown: bool) {
            let mut a = vec![];
            self.p.stop(self.now, shutdown, &mut a);
            self.run(a);
        }

        fn take_log(&mut self) -> Vec<String> {
            std::mem::take(&mut self.log)
        }
    }

    #[test]
    fn t1_t4_start_then_success_after_startsecs() {
        let mut s = Sim::new(cfg("web"));
        s.start();
        assert_eq!(s.take_log(), vec!["INFO spawned: 'web' with pid 101"]);
        assert_eq!(s.p.state, State::Starting);
        s.advance_to(1000);
        assert_eq!(s.p.state, State::Starting, "strictly more than startsecs");
        s.advance_to(1001);
        assert_eq!(s.p.state, State::Running);
        assert_eq!(
            s.take_log(),
            vec!["INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"]
        );
    }

    #[test]
    fn t5_t7_t10_backoff_cadence_then_fatal() {
        let mut s = Sim::new(cfg("exit0"));
        s.start();
        let mut spawn_times = vec![s.now];
        for _ in 0..4 {
            s.now += 10;
            s.exit(Exit::Code(0), 0);
            // Fire the next deadline only: the BACKOFF retry.
            if let Some(d) = s.p.next_deadline() {
                s.advance_to(d);
                spawn_times.push(s.p.laststart.unwrap());
            }
        }
        // 1 s, 2 s, 3 s after each failure (each failure 10 ms after its spawn).
        assert_eq!(spawn_times, vec![0, 1010, 3020, 6030]);
        assert_eq!(s.p.state, State::Fatal);
        let log = s.take_log();
        assert_eq!(
            log.iter()
                .filter(|l| *l == "WARN exited: exit0 (exit status 0; not expected)")
                .count(),
            4
        );
        assert_eq!(
            log.last().unwrap(),
            "INFO gave up: exit0 entered FATAL state, too many start retries too quickly"
        );
    }

    #[test]
    fn startretries_zero_gives_up_at_first_failure() {
        let mut c = cfg("once");
        c.startretries = 0;
        let mut s = Sim::new(c);
        s.start();
        s.exit(Exit::Code(1), 0);
        assert_eq!(s.p.state, State::Fatal);
        assert_eq!(
            s.take_log()[1..],
            [
                "WARN exited: once (exit status 1; not expected)".to_string(),
                "INFO gave up: once entered FATAL state, too many start retries too quickly".to_string()
            ]
        );
    }

    #[test]
    fn spawnerr_goes_to_backoff_and_fatal_in_the_same_step() {
        let mut s = Sim::new(cfg("nocmd"));
        s.fail = Some("can't find command '/nonexistent'".into());
        s.start();
        assert_eq!(s.p.state, State::Backoff);
        s.advance_to(100_000);
        assert_eq!(s.p.state, State::Fatal);
        let log = s.take_log();
        assert_eq!(log.len(), 5);
        assert!(log[..4]
            .iter()
            .all(|l| l == "INFO spawnerr: can't find command '/nonexistent'"));
        assert!(log[4].starts_with("INFO gave up: nocmd"));
    }

    #[test]
    fn autorestart_by_exitcodes_table() {
        use AutoRestart::*;
        for (ar, exit, expect_restart) in [
            (False, Exit::Code(0), false),
            (False, Exit::Code(3), false),
            (Unexpected, Exit::Code(0), false),
            (Unexpected, Exit::Code(3), true),
            (Unexpected, Exit::Signal { sig: 9, core: false }, true),
            (True, Exit::Code(0), true),
            (True, Exit::Code(3), true),
        ] {
            let mut c = cfg("p");
            c.autorestart = ar;
            let mut s = Sim::new(c);
            s.start();
            s.advance_to(5000);
            s.take_log();
            s.exit(exit, 0);
            s.advance_to(5000);
            let restarted = s.p.state == State::Starting;
            assert_eq!(restarted, expect_restart, "{ar:?} {exit:?}");
            let line = &s.take_log()[0];
            if exit == Exit::Code(0) {
                assert_eq!(line, "INFO exited: p (exit status 0; expected)");
            } else {
                assert!(
                    line.starts_with("WARN exited: p (") && line.ends_with("; not expected)"),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn restart_from_exited_is_immediate_but_one_second_after_previous_spawn() {
        let mut c = cfg("fast");
        c.startsecs = 0;
        let mut s = Sim::new(c);
        s.start();
        s.now = 200;
        s.exit(Exit::Code(1), 0);
        assert_eq!(s.p.state, State::Exited);
        assert_eq!(s.p.next_deadline(), Some(1000));
        s.advance_to(999);
        assert_eq!(s.p.state, State::Exited);
        s.advance_to(1000);
        assert_eq!(s.p.state, State::Running, "startsecs=0 promotes at spawn");
        // Up for a long time: the restart is at once.
        s.now = 60_000;
        s.exit(Exit::Signal { sig: 9, core: false }, 0);
        assert_eq!(s.p.next_deadline(), Some(60_000));
    }

    #[test]
    fn startsecs_zero_logs_success_right_after_spawned() {
        let mut c = cfg("s0");
        c.startsecs = 0;
        let mut s = Sim::new(c);
        s.start();
        s.exit(Exit::Code(0), 0);
        assert_eq!(
            s.take_log(),
            vec![
                "INFO spawned: 's0' with pid 101",
                "INFO success: s0 entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)",
                "INFO exited: s0 (exit status 0; expected)",
            ]
        );
    }

    #[test]
    fn t11_t12_t13_stop_escalates_to_sigkill_every_stopwaitsecs() {
        let mut c = cfg("noterm");
        c.stopwaitsecs = 3;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.take_log();
        s.stop(false);
        assert_eq!(s.kills, vec![(101, libc::SIGTERM, false)]);
        s.advance_to(4999);
        assert_eq!(s.kills.len(), 1);
        s.advance_to(5000);
        s.advance_to(8000);
        assert_eq!(s.kills[1..], [(101, 9, false), (101, 9, false)]);
        s.exit(Exit::Signal { sig: 9, core: false }, 0);
        assert_eq!(s.p.state, State::Stopped);
        let log = s.take_log();
        assert_eq!(log[1], "WARN killing 'noterm' (101) with SIGKILL");
        assert_eq!(
            log.last().unwrap(),
            "WARN stopped: noterm (terminated by SIGKILL)"
        );
    }

    #[test]
    fn stopped_level_follows_exitcodes() {
        let mut s = Sim::new(cfg("h"));
        s.start();
        s.stop(false);
        s.exit(Exit::Code(0), 0);
        assert_eq!(s.take_log().last().unwrap(), "INFO stopped: h (exit status 0)");
        let mut s = Sim::new(cfg("h"));
        s.start();
        s.stop(false);
        s.exit(Exit::Code(1), 0);
        assert_eq!(s.take_log().last().unwrap(), "WARN stopped: h (exit status 1)");
    }

    #[test]
    fn shutdown_signals_the_whole_group_and_never_restarts() {
        let mut c = cfg("wrap");
        c.autorestart = AutoRestart::True;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.stop(true);
        assert_eq!(s.kills, vec![(101, libc::SIGTERM, true)]);
        s.advance_to(12_000);
        assert_eq!(s.kills[1], (101, libc::SIGKILL, true));
        s.exit(Exit::Code(0), 0);
        s.advance_to(20_000);
        assert_eq!(s.p.state, State::Stopped);
        assert!(s.p.is_settled());
    }

    #[test]
    fn t14_t15_stop_in_backoff() {
        let mut s = Sim::new(cfg("b"));
        s.start();
        s.exit(Exit::Code(1), 0);
        assert_eq!(s.p.state, State::Backoff);
        s.stop(false);
        assert_eq!(s.p.state, State::Stopped);
        let mut s = Sim::new(cfg("b"));
        s.start();
        s.exit(Exit::Code(1), 0);
        s.take_log();
        s.stop(true);
        assert_eq!(s.p.state, State::Fatal);
        assert!(s.take_log().is_empty(), "T15 is silent");
        s.advance_to(10_000);
        assert_eq!(s.p.state, State::Fatal);
    }

    #[test]
    fn leftovers_are_stopped_before_the_respawn() {
        let mut c = cfg("apache2");
        c.autorestart = AutoRestart::True;
        c.stopwaitsecs = 5;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(3000);
        s.take_log();
        s.exit(Exit::Code(0), 2);
        assert_eq!(s.kills, vec![(101, libc::SIGTERM, true)]);
        assert_eq!(
            s.take_log()[1],
            "WARN stopping 2 leftover processes of apache2 (process group 101) before respawn"
        );
        s.advance_to(4000);
        assert_eq!(s.p.state, State::Exited, "no respawn while the old group lives");
        let mut a = vec![];
        s.p.group_gone(s.now, &mut a);
        s.run(a);
        assert_eq!(s.p.state, State::Starting);
        assert_eq!(s.take_log(), vec!["INFO spawned: 'apache2' with pid 102"]);
    }

    #[test]
    fn stubborn_leftovers_get_sigkill_after_stopwaitsecs() {
        let mut c = cfg("mysql");
        c.autorestart = AutoRestart::True;
        c.stopwaitsecs = 2;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(3000);
        s.exit(Exit::Code(0), 1);
        s.advance_to(5000);
        assert_eq!(
            s.kills,
            vec![(101, libc::SIGTERM, true), (101, libc::SIGKILL, true)]
        );
        let mut a = vec![];
        s.p.group_gone(s.now, &mut a);
        s.run(a);
        assert_eq!(s.p.state, State::Starting);
    }

    #[test]
    fn shutdown_on_values() {
        for (policy, exit, running_first, want) in [
            (ShutdownOn::Any, Exit::Code(0), true, Some(0)),
            (ShutdownOn::Unexpected, Exit::Code(0), true, None),
            (ShutdownOn::Unexpected, Exit::Code(4), true, Some(4)),
            (
                ShutdownOn::Unexpected,
                Exit::Signal { sig: 9, core: false },
                true,
                Some(137),
            ),
            (ShutdownOn::Fatal, Exit::Code(4), true, None),
            (ShutdownOn::Never, Exit::Code(4), true, None),
        ] {
            let mut c = cfg("p");
            c.shutdown_on = policy;
            c.autorestart = AutoRestart::False;
            let mut s = Sim::new(c);
            s.start();
            if running_first {
                s.advance_to(2000);
            }
            s.exit(exit, 0);
            assert_eq!(s.shutdowns.first().copied(), want, "{policy:?} {exit:?}");
        }
        // fatal after failed spawns: 127.
        let mut c = cfg("p");
        c.shutdown_on = ShutdownOn::Fatal;
        c.startretries = 0;
        let mut s = Sim::new(c);
        s.fail = Some("can't find command 'x'".into());
        s.start();
        assert_eq!(s.shutdowns, vec![127]);
        // fatal after fast exits: the last exit code.
        let mut c = cfg("p");
        c.shutdown_on = ShutdownOn::Fatal;
        c.startretries = 0;
        let mut s = Sim::new(c);
        s.start();
        s.exit(Exit::Code(3), 0);
        assert_eq!(s.shutdowns, vec![3]);
    }

    #[test]
    fn halted_process_is_not_respawned_before_its_stop() {
        // Regression: a later priority batch was respawned during shutdown.
        let mut c = cfg("crashy");
        c.autorestart = AutoRestart::True;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.p.halt();
        s.exit(Exit::Code(1), 0);
        s.advance_to(10_000);
        assert_eq!(s.p.state, State::Exited);
        assert!(s.p.is_settled());
        // BACKOFF retries stop too.
        let mut s = Sim::new(cfg("flappy"));
        s.start();
        s.exit(Exit::Code(1), 0);
        s.p.halt();
        assert_eq!(s.p.next_deadline(), None, "no deadline the loop would spin on");
        s.advance_to(10_000);
        assert_eq!(s.p.state, State::Backoff);
    }

    #[test]
    fn exit_descriptions_match_supervisord() {
        assert_eq!(Exit::Code(3).describe(), "exit status 3");
        assert_eq!(
            Exit::Signal { sig: 9, core: false }.describe(),
            "terminated by SIGKILL"
        );
        assert_eq!(
            Exit::Signal { sig: 11, core: true }.describe(),
            "terminated by SIGSEGV (core dumped)"
        );
        assert_eq!(
            Exit::Signal { sig: 40, core: false }.describe(),
            "terminated by signal 40"
        );
    }

    #[test]
    fn settled_and_ended_well() {
        let mut c = cfg("one");
        c.autorestart = AutoRestart::False;
        let mut s = Sim::new(c);
        assert!(s.p.is_settled());
        s.start();
        assert!(!s.p.is_settled());
        s.advance_to(2000);
        s.exit(Exit::Code(0), 0);
        assert!(s.p.is_settled());
        assert!(s.p.ended_well());
    }
}

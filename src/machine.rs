//! supervisord's process state machine, without its one-second loop: every
//! rule is a deadline that fires at its exact time. The states, the events
//! and what each event does in each state are the table [`TABLE`] just
//! below; docs/state-machine.md explains it and carries the same table (a
//! test keeps the two identical, and another drives the machine through
//! every row).
//!
//! This module is pure. It never reads a clock and never makes a system
//! call: callers pass `now` (monotonic milliseconds) and the facts they
//! observed (a spawn result, a wait status, how many processes are left in
//! a process group), and get back the `Action`s to perform. That keeps every
//! transition testable with a fake clock.

use crate::config::{AutoRestart, ProcessConfig, ShutdownOn};
use crate::log::{Level, Line};

/// Monotonic time in milliseconds.
pub type Millis = u64;

const SECOND: Millis = 1000;

/// The states of a process, as supervisord names them. UNKNOWN is not
/// reachable here: a failed `kill` other than ESRCH cannot happen to our own
/// children.
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

/// What can happen to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `start`: autostart at boot, or a request.
    Start,
    /// `spawned`: the fork succeeded.
    Spawned,
    /// `spawn_failed`: the command could not be started.
    SpawnFailed,
    /// `exited`: the main pid was reaped.
    Exit,
    /// `tick`: the state's own deadline is due.
    Deadline,
    /// `stop(shutdown = false)`: a stop request.
    Stop,
    /// `stop(shutdown = true)`: rinit is shutting down.
    ShutdownStop,
    /// `kill_now`: a second exit request during shutdown.
    KillNow,
}

/// The condition that picks a row when one (state, event) has several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    StartsecsZero,
    StartsecsPositive,
    /// Failed starts so far ≤ startretries.
    RetriesLeft,
    NoRetryLeft,
    /// `autorestart` asks for a restart of this exit.
    Restart,
    NoRestart,
    /// No shutdown has begun and no leftover process group is being
    /// stopped.
    MayStart,
}

/// One row of the state × event table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub state: State,
    pub event: Event,
    pub when: When,
    pub next: State,
    /// What the machine asks the caller to do, in words.
    pub does: &'static str,
}

const fn row(state: State, event: Event, when: When, next: State, does: &'static str) -> Row {
    Row {
        state,
        event,
        when,
        next,
        does,
    }
}

use Event as E;
use State as S;
use When as W;

/// Every transition. A (state, event) pair that is not here is ignored:
/// nothing changes and nothing is done.
pub const TABLE: &[Row] = &[
    row(S::Stopped, E::Start, W::Always, S::Starting, "fork"),
    row(S::Exited, E::Start, W::Always, S::Starting, "fork"),
    row(S::Fatal, E::Start, W::Always, S::Starting, "fork"),
    row(
        S::Starting,
        E::Spawned,
        W::StartsecsPositive,
        S::Starting,
        "log `spawned`; promote at now + startsecs + 1 ms",
    ),
    row(
        S::Starting,
        E::Spawned,
        W::StartsecsZero,
        S::Running,
        "log `spawned` and `success`",
    ),
    row(
        S::Starting,
        E::SpawnFailed,
        W::RetriesLeft,
        S::Backoff,
        "log `spawnerr`; retry after as many seconds as failed starts",
    ),
    row(
        S::Starting,
        E::SpawnFailed,
        W::NoRetryLeft,
        S::Fatal,
        "log `spawnerr` and `gave up`; shutdown_on=fatal fires",
    ),
    row(S::Starting, E::Deadline, W::Always, S::Running, "log `success`"),
    row(
        S::Starting,
        E::Exit,
        W::RetriesLeft,
        S::Backoff,
        "log `exited` (not expected); stop the group's leftovers",
    ),
    row(
        S::Starting,
        E::Exit,
        W::NoRetryLeft,
        S::Fatal,
        "log `exited` and `gave up`",
    ),
    row(
        S::Starting,
        E::Stop,
        W::Always,
        S::Stopping,
        "stopsignal; SIGKILL due after stopwaitsecs",
    ),
    row(
        S::Starting,
        E::ShutdownStop,
        W::Always,
        S::Stopping,
        "stopsignal to the group; SIGKILL due after stopwaitsecs",
    ),
    row(
        S::Running,
        E::Exit,
        W::Restart,
        S::Exited,
        "log `exited`; restart at once but ≥ 1 s after the last spawn; stop the group's leftovers",
    ),
    row(S::Running, E::Exit, W::NoRestart, S::Exited, "log `exited`"),
    row(
        S::Running,
        E::Stop,
        W::Always,
        S::Stopping,
        "stopsignal; SIGKILL due after stopwaitsecs",
    ),
    row(
        S::Running,
        E::ShutdownStop,
        W::Always,
        S::Stopping,
        "stopsignal to the group; SIGKILL due after stopwaitsecs",
    ),
    row(S::Backoff, E::Deadline, W::MayStart, S::Starting, "fork"),
    row(S::Backoff, E::Stop, W::Always, S::Stopped, "debug log"),
    row(
        S::Backoff,
        E::ShutdownStop,
        W::Always,
        S::Fatal,
        "nothing (silent, as supervisord)",
    ),
    row(
        S::Stopping,
        E::Deadline,
        W::Always,
        S::Stopping,
        "log `killing … with SIGKILL`; again after max(stopwaitsecs, 1 s)",
    ),
    row(S::Stopping, E::Exit, W::Always, S::Stopped, "log `stopped`"),
    row(
        S::Stopping,
        E::KillNow,
        W::Always,
        S::Stopping,
        "log `killing … with SIGKILL` (to the group)",
    ),
    row(S::Exited, E::Deadline, W::MayStart, S::Starting, "fork"),
];

impl State {
    /// States that end a shutdown wait (supervisord's "stopped" class).
    pub fn is_stopped_class(self) -> bool {
        matches!(self, State::Stopped | State::Exited | State::Fatal)
    }
}

/// A state with the deadline that belongs to it: one field per meaning
/// instead of one shared `delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stopped,
    /// `promote_at` is known once the fork succeeded (the fork is made
    /// between `Spawn` and `spawned`, so `None` lasts no longer than it).
    Starting {
        promote_at: Option<Millis>,
    },
    Running,
    Backoff {
        retry_at: Millis,
    },
    Stopping {
        kill_at: Millis,
    },
    /// `restart_at`: an automatic restart is due then.
    Exited {
        restart_at: Option<Millis>,
    },
    Fatal,
}

impl Phase {
    fn state(self) -> State {
        match self {
            Phase::Stopped => State::Stopped,
            Phase::Starting { .. } => State::Starting,
            Phase::Running => State::Running,
            Phase::Backoff { .. } => State::Backoff,
            Phase::Stopping { .. } => State::Stopping,
            Phase::Exited { .. } => State::Exited,
            Phase::Fatal => State::Fatal,
        }
    }
}

/// `secs` seconds after `now`. Config values reach u64::MAX seconds, so the
/// arithmetic saturates: a deadline past the end of time never fires, which
/// is what supervisord does with such a value (it waits as the value says).
fn secs_after(now: Millis, secs: u64) -> Millis {
    now.saturating_add(secs.saturating_mul(SECOND))
}

/// When to repeat a SIGKILL that has not killed yet: every `stopwaitsecs`,
/// as supervisord does, but at most once a second. supervisord's loop wakes
/// at most once a second while nothing happens, so with stopwaitsecs=0 a
/// slow death (gigabytes to tear down) costs it one line a second; re-arming
/// at `now` made rinit spin and log tens of thousands of lines.
fn rekill_at(now: Millis, stopwaitsecs: u64) -> Millis {
    secs_after(now, stopwaitsecs.max(1))
}

/// How a process ended (`sys` decodes it from the wait status).
pub use crate::sys::Exit;

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
    /// The process changed state (never reported for a "change" to the same
    /// state), with the facts of that moment that PROCESS_STATE events carry
    /// (docs/events.md): the retry count, the pid (the one that just ended
    /// for EXITED and STOPPED, 0 when there is none) and whether an exit was
    /// expected.
    Transition(Change),
}

/// A change of state with the facts PROCESS_STATE events carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub from: State,
    pub to: State,
    /// The retry count.
    pub tries: u32,
    /// The pid (the one that just ended for EXITED and STOPPED), 0 for none.
    pub pid: i32,
    /// Whether an exit was expected.
    pub expected: bool,
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
/// respawn (docs/state-machine.md, "leftovers"). It lives beside the state:
/// the process is EXITED or BACKOFF meanwhile, and no automatic start
/// happens until the group is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cleanup {
    pgid: i32,
    kill_at: Millis,
}

/// One supervised process: the configuration it runs and its state.
#[derive(Debug, Clone)]
pub struct Process {
    pub cfg: ProcessConfig,
    phase: Phase,
    pub pid: Option<i32>,
    /// Time of the last spawn attempt.
    laststart: Option<Millis>,
    /// Consecutive failed starts (supervisord's `backoff`).
    backoff: u32,
    cleanup: Option<Cleanup>,
    /// Set by a shutdown: no more automatic starts of any kind.
    halted: bool,
    /// Stop and kill the whole process group whatever the config says.
    signal_group: bool,
    pub outcome: Outcome,
    /// supervisord's `spawnerr` and `laststop`, shown by the control
    /// interface (docs/control.md).
    pub spawnerr: Option<String>,
    pub laststop: Option<Millis>,
    /// While an exit is being handled: the pid that ended.
    ending_pid: Option<i32>,
}

impl Process {
    pub fn new(cfg: ProcessConfig) -> Process {
        Process {
            cfg,
            phase: Phase::Stopped,
            pid: None,
            laststart: None,
            backoff: 0,
            cleanup: None,
            halted: false,
            signal_group: false,
            outcome: Outcome::None,
            spawnerr: None,
            laststop: None,
            ending_pid: None,
        }
    }

    /// Enter `phase`, reporting a change of state.
    fn enter(&mut self, phase: Phase, out: &mut Vec<Action>) {
        let from = self.phase.state();
        self.phase = phase;
        let to = phase.state();
        if from != to {
            out.push(Action::Transition(Change {
                from,
                to,
                tries: self.backoff,
                pid: self.pid.or(self.ending_pid).unwrap_or(0),
                expected: matches!(self.outcome, Outcome::Exited { expected: true, .. }),
            }));
        }
    }

    /// Time of the last spawn attempt (for the control interface).
    pub fn laststart(&self) -> Option<Millis> {
        self.laststart
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// The pgid whose leftovers are being stopped, if any.
    pub fn cleanup_pgid(&self) -> Option<i32> {
        self.cleanup.map(|c| c.pgid)
    }

    /// An automatic (re)start may happen: no shutdown, and no leftover
    /// process group still being stopped (`When::MayStart`).
    fn may_start(&self) -> bool {
        !self.halted && self.cleanup.is_none()
    }

    /// Whether a due `tick` may fork (a BACKOFF retry or a restart).
    pub fn may_spawn_on_tick(&self) -> bool {
        matches!(self.phase, Phase::Backoff { .. } | Phase::Exited { .. })
    }

    /// The earliest time this process needs `tick`.
    pub fn next_deadline(&self) -> Option<Millis> {
        // A deadline that `tick` would not act on must not be reported, or
        // the event loop would spin on it (a halted BACKOFF at shutdown).
        let own = match self.phase {
            Phase::Starting { promote_at } => promote_at,
            Phase::Stopping { kill_at } => Some(kill_at),
            Phase::Backoff { retry_at } if self.may_start() => Some(retry_at),
            Phase::Exited { restart_at } if self.may_start() => restart_at,
            _ => None,
        };
        let cleanup = self.cleanup.map(|c| c.kill_at);
        match (own, cleanup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `Event::Start`: autostart at boot, or a request.
    pub fn start(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.halted || !matches!(self.state(), State::Stopped | State::Exited | State::Fatal) {
            return;
        }
        self.begin_spawn(now, out);
    }

    fn begin_spawn(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.enter(Phase::Starting { promote_at: None }, out);
        self.laststart = Some(now);
        self.pid = None;
        self.spawnerr = None;
        out.push(Action::Spawn);
    }

    /// `Event::Spawned`: the fork succeeded.
    pub fn spawned(&mut self, now: Millis, pid: i32, out: &mut Vec<Action>) {
        if self.state() != State::Starting {
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
            Line::new()
                .s("spawned: '")
                .s(&self.cfg.name)
                .s("' with pid ")
                .n(pid)
                .done(),
        );
        if self.cfg.startsecs == 0 {
            // supervisord promotes on its next iteration, before it reaps:
            // `success` always precedes `exited` for startsecs=0.
            self.promote(out);
        } else {
            // "stayed up for more than startsecs", strictly.
            let promote_at = secs_after(now, self.cfg.startsecs).saturating_add(1);
            self.enter(
                Phase::Starting {
                    promote_at: Some(promote_at),
                },
                out,
            );
        }
    }

    /// `Event::SpawnFailed`: the spawn failed before or at fork.
    pub fn spawn_failed(&mut self, now: Millis, reason: &str, out: &mut Vec<Action>) {
        if self.state() != State::Starting {
            return;
        }
        log(out, Level::Info, format!("spawnerr: {reason}"));
        self.spawnerr = Some(reason.to_string());
        self.outcome = Outcome::SpawnFailed;
        if self.enter_backoff(now, out) {
            self.give_up(out);
        }
    }

    fn promote(&mut self, out: &mut Vec<Action>) {
        self.enter(Phase::Running, out);
        self.backoff = 0;
        log(
            out,
            Level::Info,
            Line::new()
                .s("success: ")
                .s(&self.cfg.name)
                .s(" entered RUNNING state, process has stayed up for > than ")
                .u(self.cfg.startsecs)
                .s(" seconds (startsecs)")
                .done(),
        );
    }

    /// A failed start: BACKOFF, retried after as many seconds as failed
    /// starts. Returns true when no retry is left: the caller gives up
    /// (FATAL) after writing its own line, the order supervisord's events
    /// and lines come in (BACKOFF, the line, FATAL, `gave up`; the BACKOFF
    /// event carries the last count).
    fn enter_backoff(&mut self, now: Millis, out: &mut Vec<Action>) -> bool {
        self.pid = None;
        self.backoff = self.backoff.saturating_add(1);
        let exhausted = self.backoff > self.cfg.startretries;
        let retry_at = if exhausted {
            now
        } else {
            secs_after(now, u64::from(self.backoff))
        };
        self.enter(Phase::Backoff { retry_at }, out);
        exhausted
    }

    fn give_up(&mut self, out: &mut Vec<Action>) {
        self.enter(Phase::Fatal, out);
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

    /// `Event::Exit`: the main pid was reaped. `leftovers` is how many
    /// other processes are still in its process group.
    pub fn exited(&mut self, now: Millis, exit: Exit, leftovers: usize, out: &mut Vec<Action>) {
        let expected = self.cfg.exitcodes.contains(&exit.code_for_expectation());
        let old_pid = self.pid.take();
        self.laststop = Some(now);
        self.ending_pid = old_pid;
        self.exited_in_state(now, exit, expected, old_pid, leftovers, out);
        self.ending_pid = None;
    }

    fn exited_in_state(
        &mut self,
        now: Millis,
        exit: Exit,
        expected: bool,
        old_pid: Option<i32>,
        leftovers: usize,
        out: &mut Vec<Action>,
    ) {
        // Each line is built before the state changes (it is pushed after
        // the change all the same): the name is borrowed, not copied.
        let name = |head: &str| Line::new().s(head).s(&self.cfg.name).s(" (");
        match self.state() {
            State::Stopping => {
                // Any death while stopping is a `stopped:`.
                let line = exit.describe_into(name("stopped: ")).s(")").done();
                self.enter(Phase::Stopped, out);
                let level = if expected { Level::Info } else { Level::Warn };
                log(out, level, line);
                self.outcome = Outcome::Exited { exit, expected: true };
            }
            State::Starting => {
                // Died before startsecs, whatever the code. The state
                // changes before the line is written, as in supervisord.
                let line = exit.describe_into(name("exited: ")).s("; not expected)").done();
                self.outcome = Outcome::Exited { exit, expected };
                self.spawnerr = Some("Exited too quickly (process log may have details)".into());
                let exhausted = self.enter_backoff(now, out);
                log(out, Level::Warn, line);
                self.policy_on_exit(exit, expected, out);
                if exhausted {
                    self.give_up(out);
                }
                if self.state() == State::Backoff && !self.halted {
                    self.plan_cleanup(now, old_pid, leftovers, out);
                }
            }
            State::Running => {
                let (level, word) = if expected {
                    (Level::Info, "expected")
                } else {
                    (Level::Warn, "not expected")
                };
                let line = exit.describe_into(name("exited: ")).s("; ").s(word).s(")").done();
                self.backoff = 0;
                self.outcome = Outcome::Exited { exit, expected };
                let restart = match self.cfg.autorestart {
                    AutoRestart::False => false,
                    AutoRestart::Unexpected => !expected,
                    AutoRestart::True => true,
                } && !self.halted;
                // At once, but never two spawns less than 1 s apart.
                let restart_at = restart.then(|| now.max(self.laststart.map_or(now, |t| secs_after(t, 1))));
                // The state changes before the line is written, as in
                // supervisord.
                self.enter(Phase::Exited { restart_at }, out);
                log(out, level, line);
                self.policy_on_exit(exit, expected, out);
                if restart {
                    self.plan_cleanup(now, old_pid, leftovers, out);
                }
            }
            _ => {}
        }
    }

    /// `shutdown_on` (docs/state-machine.md) for an exit that is not a
    /// requested stop.
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
            kill_at: secs_after(now, self.cfg.stopwaitsecs),
        });
    }

    /// The process group being cleaned up has no member left.
    pub fn group_gone(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.cleanup.take().is_some() {
            self.tick(now, out);
        }
    }

    /// `Event::Deadline`: fire every deadline that is due at `now`.
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
                    kill_at: rekill_at(now, self.cfg.stopwaitsecs),
                });
            }
        }
        let due = |t: Millis| now >= t;
        match self.phase {
            Phase::Starting { promote_at: Some(t) } if due(t) => self.promote(out),
            Phase::Backoff { retry_at } if due(retry_at) && self.may_start() => self.begin_spawn(now, out),
            Phase::Exited { restart_at: Some(t) } if due(t) && self.may_start() => self.begin_spawn(now, out),
            Phase::Stopping { kill_at } if due(kill_at) => {
                // Repeated while the process lives (see `rekill_at`).
                if let Some(pid) = self.pid {
                    log(
                        out,
                        Level::Warn,
                        format!("killing '{}' ({}) with SIGKILL", self.cfg.name, pid),
                    );
                    out.push(self.kill_action(pid, libc::SIGKILL, self.cfg.killasgroup));
                }
                self.enter(
                    Phase::Stopping {
                        kill_at: rekill_at(now, self.cfg.stopwaitsecs),
                    },
                    out,
                );
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

    /// `Event::Stop`, or `Event::ShutdownStop` when `shutdown`: rinit is
    /// ending, so no automatic start follows, BACKOFF turns FATAL silently,
    /// and the whole process group gets the signals.
    pub fn stop(&mut self, now: Millis, shutdown: bool, out: &mut Vec<Action>) {
        if shutdown {
            self.halt();
            self.signal_group = true;
        }
        match self.state() {
            State::Running | State::Starting => {
                let Some(pid) = self.pid else { return };
                let group = self.cfg.stopasgroup || self.signal_group;
                let how = if group { " process group" } else { "" };
                log(
                    out,
                    Level::Debg,
                    Line::new()
                        .s("killing ")
                        .s(&self.cfg.name)
                        .s(" (pid ")
                        .n(pid)
                        .s(")")
                        .s(how)
                        .s(" with signal ")
                        .sig(self.cfg.stopsignal)
                        .done(),
                );
                out.push(Action::Kill {
                    pid,
                    sig: self.cfg.stopsignal,
                    group,
                });
                self.enter(
                    Phase::Stopping {
                        kill_at: secs_after(now, self.cfg.stopwaitsecs),
                    },
                    out,
                );
            }
            State::Backoff if shutdown => {
                self.enter(Phase::Fatal, out);
                self.backoff = 0;
            }
            State::Backoff => {
                log(
                    out,
                    Level::Debg,
                    format!("Attempted to kill {}, which is in BACKOFF state.", self.cfg.name),
                );
                self.enter(Phase::Stopped, out);
            }
            _ => {}
        }
    }

    /// Shutdown has begun: no automatic start of any kind from now on, even
    /// before this process's priority batch is stopped.
    pub fn halt(&mut self) {
        self.halted = true;
        if let Phase::Exited { .. } = self.phase {
            self.phase = Phase::Exited { restart_at: None };
        }
    }

    /// `Event::KillNow`: a second exit request during shutdown: SIGKILL
    /// now, no more waiting.
    pub fn kill_now(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.state() == State::Stopping {
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
                self.enter(
                    Phase::Stopping {
                        kill_at: rekill_at(now, self.cfg.stopwaitsecs),
                    },
                    out,
                );
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

    /// Nothing more will happen to this process on its own.
    pub fn is_settled(&self) -> bool {
        match self.phase {
            Phase::Stopped | Phase::Fatal => true,
            // `halt` clears `restart_at`, so a halted EXITED is settled too.
            Phase::Exited { restart_at } => restart_at.is_none(),
            _ => false,
        }
    }

    /// For rinit's exit status when nothing is left to run.
    pub fn ended_well(&self) -> bool {
        match self.state() {
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
        /// `FROM->TO tries pid expected` per state change.
        transitions: Vec<String>,
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
                transitions: vec![],
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
                        Action::Transition(c) => self.transitions.push(format!(
                            "{:?}->{:?} {} {} {}",
                            c.from, c.to, c.tries, c.pid, c.expected
                        )),
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
    fn transitions_carry_what_supervisords_events_carry() {
        // A crash loop to FATAL: STARTING and BACKOFF carry the retry count
        // (BACKOFF the incremented one), FATAL is entered from BACKOFF.
        let mut c = cfg("nocmd");
        c.startretries = 1;
        let mut s = Sim::new(c);
        s.fail = Some("can't find command 'nocmd'".into());
        s.start();
        s.advance_to(60_000);
        assert_eq!(
            s.transitions,
            [
                "Stopped->Starting 0 0 false",
                "Starting->Backoff 1 0 false",
                "Backoff->Starting 1 0 false",
                "Starting->Backoff 2 0 false",
                "Backoff->Fatal 2 0 false",
            ]
        );
        // A run that exits expectedly, then a stop: EXITED and STOPPED carry
        // the pid that ended.
        let mut c = cfg("ok");
        c.startsecs = 0;
        c.autorestart = AutoRestart::False;
        let mut s = Sim::new(c);
        s.start();
        s.exit(Exit::Code(0), 0);
        assert_eq!(
            s.transitions,
            [
                "Stopped->Starting 0 0 false",
                "Starting->Running 0 101 false",
                "Running->Exited 0 101 true"
            ]
        );
        let mut s = Sim::new(cfg("web"));
        s.start();
        s.advance_to(2000);
        s.stop(false);
        s.exit(Exit::Signal { sig: 15, core: false }, 0);
        assert_eq!(
            s.transitions[2..],
            ["Running->Stopping 0 101 false", "Stopping->Stopped 0 101 false"]
        );
    }

    #[test]
    fn start_then_success_after_startsecs() {
        let mut s = Sim::new(cfg("web"));
        s.start();
        assert_eq!(s.take_log(), vec!["INFO spawned: 'web' with pid 101"]);
        assert_eq!(s.p.state(), State::Starting);
        s.advance_to(1000);
        assert_eq!(s.p.state(), State::Starting, "strictly more than startsecs");
        s.advance_to(1001);
        assert_eq!(s.p.state(), State::Running);
        assert_eq!(
            s.take_log(),
            vec!["INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"]
        );
    }

    #[test]
    fn backoff_cadence_then_fatal() {
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
        assert_eq!(s.p.state(), State::Fatal);
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
        assert_eq!(s.p.state(), State::Fatal);
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
        assert_eq!(s.p.state(), State::Backoff);
        s.advance_to(100_000);
        assert_eq!(s.p.state(), State::Fatal);
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
            let restarted = s.p.state() == State::Starting;
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
        assert_eq!(s.p.state(), State::Exited);
        assert_eq!(s.p.next_deadline(), Some(1000));
        s.advance_to(999);
        assert_eq!(s.p.state(), State::Exited);
        s.advance_to(1000);
        assert_eq!(s.p.state(), State::Running, "startsecs=0 promotes at spawn");
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
    fn stop_escalates_to_sigkill_every_stopwaitsecs() {
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
        assert_eq!(s.p.state(), State::Stopped);
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
        assert_eq!(s.p.state(), State::Stopped);
        assert!(s.p.is_settled());
    }

    #[test]
    fn stop_in_backoff() {
        let mut s = Sim::new(cfg("b"));
        s.start();
        s.exit(Exit::Code(1), 0);
        assert_eq!(s.p.state(), State::Backoff);
        s.stop(false);
        assert_eq!(s.p.state(), State::Stopped);
        let mut s = Sim::new(cfg("b"));
        s.start();
        s.exit(Exit::Code(1), 0);
        s.take_log();
        s.stop(true);
        assert_eq!(s.p.state(), State::Fatal);
        assert!(s.take_log().is_empty(), "a shutdown stop in BACKOFF is silent");
        s.advance_to(10_000);
        assert_eq!(s.p.state(), State::Fatal);
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
        assert_eq!(s.p.state(), State::Exited, "no respawn while the old group lives");
        let mut a = vec![];
        s.p.group_gone(s.now, &mut a);
        s.run(a);
        assert_eq!(s.p.state(), State::Starting);
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
        assert_eq!(s.p.state(), State::Starting);
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
        assert_eq!(s.p.state(), State::Exited);
        assert!(s.p.is_settled());
        // BACKOFF retries stop too.
        let mut s = Sim::new(cfg("flappy"));
        s.start();
        s.exit(Exit::Code(1), 0);
        s.p.halt();
        assert_eq!(s.p.next_deadline(), None, "no deadline the loop would spin on");
        s.advance_to(10_000);
        assert_eq!(s.p.state(), State::Backoff);
    }

    #[test]
    fn huge_startsecs_does_not_overflow_into_an_early_promotion() {
        // Regression: startsecs=18446744073709552 wrapped `now + secs*1000`
        // and the program was RUNNING after 0.4 s.
        let mut c = cfg("slow");
        c.startsecs = 18_446_744_073_709_552;
        let mut s = Sim::new(c);
        s.now = 5000;
        s.start();
        assert_eq!(s.p.next_deadline(), Some(Millis::MAX));
        s.advance_to(100 * 365 * 24 * 3600 * SECOND);
        assert_eq!(s.p.state(), State::Starting);
        assert_eq!(s.take_log(), vec!["INFO spawned: 'slow' with pid 101"]);
    }

    #[test]
    fn huge_stopwaitsecs_does_not_overflow_into_an_early_sigkill() {
        // Regression: stopwaitsecs=9223372036854775807 sent SIGKILL with
        // the TERM, then again in a loop.
        let mut c = cfg("patient");
        c.stopwaitsecs = 9_223_372_036_854_775_807;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.stop(false);
        s.advance_to(100 * 365 * 24 * 3600 * SECOND);
        assert_eq!(s.kills, vec![(101, libc::SIGTERM, false)]);
        // Leftovers of a crashed group wait as long.
        let mut c = cfg("patient");
        c.stopwaitsecs = u64::MAX;
        c.autorestart = AutoRestart::True;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.exit(Exit::Code(0), 1);
        s.advance_to(100 * 365 * 24 * 3600 * SECOND);
        assert_eq!(s.kills, vec![(101, libc::SIGTERM, true)]);
    }

    #[test]
    fn stopwaitsecs_0_sends_one_sigkill_per_second_not_one_per_pass() {
        // Regression: the kill deadline was re-armed at `now`, so every pass
        // of the loop re-sent SIGKILL to a process slow to die: 60,000+
        // "killing 'big' (2) with SIGKILL" lines in 2 s.
        let mut c = cfg("big");
        c.stopwaitsecs = 0;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.take_log();
        s.stop(false);
        for _ in 0..100 {
            let mut a = vec![];
            s.p.tick(s.now, &mut a);
            s.run(a);
        }
        assert_eq!(
            s.kills,
            vec![(101, libc::SIGTERM, false), (101, libc::SIGKILL, false)]
        );
        s.now += 999;
        let mut a = vec![];
        s.p.tick(s.now, &mut a);
        s.run(a);
        assert_eq!(s.kills.len(), 2);
        s.advance_to(3000);
        assert_eq!(s.kills.len(), 3, "still alive a second later: SIGKILL again");
        s.exit(Exit::Signal { sig: 9, core: false }, 0);
        assert_eq!(
            s.take_log()[1..],
            [
                "WARN killing 'big' (101) with SIGKILL".to_string(),
                "WARN killing 'big' (101) with SIGKILL".to_string(),
                "WARN stopped: big (terminated by SIGKILL)".to_string(),
            ]
        );
        // The leftovers of a crashed group, the same.
        let mut c = cfg("big");
        c.stopwaitsecs = 0;
        c.autorestart = AutoRestart::True;
        let mut s = Sim::new(c);
        s.start();
        s.advance_to(2000);
        s.exit(Exit::Code(0), 1);
        for _ in 0..100 {
            let mut a = vec![];
            s.p.tick(s.now, &mut a);
            s.run(a);
        }
        assert_eq!(
            s.kills,
            vec![(101, libc::SIGTERM, true), (101, libc::SIGKILL, true)]
        );
    }

    /// A process in `state`, set up so that `when` holds. For the fork
    /// results (`Spawned`, `SpawnFailed`) STARTING is the moment between
    /// `Spawn` and its result.
    fn sim_in(state: State, when: When, event: Event) -> Sim {
        let mut c = cfg("p");
        match when {
            When::StartsecsZero => c.startsecs = 0,
            When::NoRetryLeft => c.startretries = 0,
            When::Restart => c.autorestart = AutoRestart::True,
            When::NoRestart => c.autorestart = AutoRestart::False,
            _ => {}
        }
        if state == State::Exited && event == Event::Deadline {
            c.autorestart = AutoRestart::True;
        }
        if state == State::Fatal {
            c.startretries = 0;
        }
        let mut s = Sim::new(c);
        match state {
            State::Stopped => {}
            State::Starting if matches!(event, Event::Spawned | Event::SpawnFailed) => {
                let mut a = vec![];
                s.p.start(s.now, &mut a);
                a.retain(|x| !matches!(x, Action::Transition(_)));
                assert_eq!(a, vec![Action::Spawn]);
            }
            State::Starting => s.start(),
            State::Running => {
                s.start();
                s.advance_to(2000);
            }
            State::Backoff | State::Fatal => {
                s.start();
                s.exit(Exit::Code(1), 0);
            }
            State::Stopping => {
                s.start();
                s.advance_to(2000);
                s.stop(false);
            }
            State::Exited => {
                s.start();
                s.advance_to(2000);
                s.exit(Exit::Code(1), 0);
            }
        }
        assert_eq!(s.p.state(), state, "setting up {state:?} {when:?}");
        s.take_log();
        s.kills.clear();
        s
    }

    /// Apply `event` the way the event loop does; returns the actions.
    fn apply(s: &mut Sim, event: Event) -> Vec<Action> {
        let mut a = vec![];
        match event {
            Event::Start => s.p.start(s.now, &mut a),
            Event::Spawned => s.p.spawned(s.now, 200, &mut a),
            Event::SpawnFailed => s.p.spawn_failed(s.now, "can't find command 'x'", &mut a),
            Event::Exit => s.p.exited(s.now, Exit::Code(1), 0, &mut a),
            Event::Deadline => {
                if let Some(d) = s.p.next_deadline() {
                    s.now = s.now.max(d);
                }
                s.p.tick(s.now, &mut a)
            }
            Event::Stop => s.p.stop(s.now, false, &mut a),
            Event::ShutdownStop => s.p.stop(s.now, true, &mut a),
            Event::KillNow => s.p.kill_now(s.now, &mut a),
        }
        a
    }

    const STATES: [State; 7] = [
        State::Stopped,
        State::Starting,
        State::Running,
        State::Backoff,
        State::Stopping,
        State::Exited,
        State::Fatal,
    ];
    const EVENTS: [Event; 8] = [
        Event::Start,
        Event::Spawned,
        Event::SpawnFailed,
        Event::Exit,
        Event::Deadline,
        Event::Stop,
        Event::ShutdownStop,
        Event::KillNow,
    ];

    #[test]
    fn every_row_of_the_table_is_what_the_machine_does() {
        for r in TABLE {
            let mut s = sim_in(r.state, r.when, r.event);
            let acts = apply(&mut s, r.event);
            assert_eq!(s.p.state(), r.next, "{r:?}: got {:?} doing {acts:?}", s.p.state());
            assert!(
                !acts.is_empty() || r.next != r.state || r.does.starts_with("nothing"),
                "{r:?} did nothing"
            );
        }
    }

    #[test]
    fn pairs_missing_from_the_table_are_ignored() {
        for state in STATES {
            for event in EVENTS {
                if TABLE.iter().any(|r| r.state == state && r.event == event) {
                    continue;
                }
                let mut s = sim_in(state, When::Always, event);
                let acts = apply(&mut s, event);
                assert_eq!(s.p.state(), state, "{state:?} on {event:?}");
                assert_eq!(acts, vec![], "{state:?} on {event:?}");
            }
        }
    }

    #[test]
    fn guarded_rows_are_refused_when_their_condition_fails() {
        // A halted BACKOFF or EXITED does not restart on its deadline.
        for state in [State::Backoff, State::Exited] {
            let mut s = sim_in(state, When::MayStart, Event::Deadline);
            s.p.halt();
            s.now += 100_000;
            let mut a = vec![];
            s.p.tick(s.now, &mut a);
            assert_eq!((s.p.state(), a), (state, vec![]));
        }
    }

    /// The table as docs/state-machine.md shows it.
    fn table_markdown() -> String {
        let mut md = String::from("| state | event | when | next state | does |\n|---|---|---|---|---|\n");
        for r in TABLE {
            md.push_str(&format!(
                "| {:?} | {:?} | {:?} | {:?} | {} |\n",
                r.state, r.event, r.when, r.next, r.does
            ));
        }
        md
    }

    #[test]
    fn the_table_in_docs_is_the_table_in_the_code() {
        let doc = include_str!("../docs/state-machine.md");
        let md = table_markdown();
        assert!(
            doc.contains(&md),
            "docs/state-machine.md must carry this table verbatim:\n{md}"
        );
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

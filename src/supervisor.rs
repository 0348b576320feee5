//! Config mode: the one event loop that drives every process's state
//! machine. It sleeps in `poll` on the signalfd until the nearest deadline
//! and performs the machine's actions (spawn, kill, log); nothing here
//! decides a transition on its own.

use crate::config::Config;
use crate::log::{Level, Logger};
use crate::machine::{signal_name, Action, Millis, Process};
use crate::pollset::PollSet;
use crate::signals::SignalFd;
use crate::{spawn, sys};
use std::collections::HashMap;
use std::time::Instant;

// The control interface's view of this loop (docs/control.md).
#[path = "supervisor_ctl.rs"]
mod ctl_view;
pub use ctl_view::Facts as ControlFacts;

/// supervisord repeats `waiting for … to die` at most this often.
const WAITING_LOG_EVERY: Millis = 3000;
/// After the programs, leftovers get TERM, then KILL this much later.
const FINAL_KILL_AFTER: Millis = 1000;
/// A process stuck in the kernel may not die even of SIGKILL: stop waiting.
const FINAL_GIVE_UP_AFTER: Millis = 5000;

/// A shutdown in progress (rinit.md §3.4).
struct Shutdown {
    /// Process indexes grouped by priority, highest priority number first.
    batches: Vec<Vec<usize>>,
    next_batch: usize,
    status: i32,
    last_waiting_log: Option<Millis>,
    /// Set once every program has stopped and leftovers got SIGTERM.
    final_term_at: Option<Millis>,
    final_kill_sent: bool,
    /// A second exit request arrived: no more grace periods.
    hurry: bool,
}

pub struct Supervisor {
    procs: Vec<Process>,
    /// Group priority of each process (shutdown order).
    group_priority: Vec<i32>,
    by_pid: HashMap<i32, usize>,
    logger: Logger,
    sig: SignalFd,
    epoch: Instant,
    base_env: Vec<(String, String)>,
    shutdown: Option<Shutdown>,
    pidfile: Option<String>,
    /// The last reap found that rinit has no child at all.
    no_children: bool,
    /// Control interface: its server (taken by `run`) and what it reports.
    control: Option<crate::ctl::Server>,
    ctl_facts: ControlFacts,
    /// A control interface is configured: rinit stays up with nothing left
    /// to run, since a program can be started again (docs/control.md).
    serving: bool,
}

impl Supervisor {
    /// Takes the config by value: with `numprocs=1000` a second copy of
    /// every process's settings would double rinit's memory.
    pub fn new(config: Config, logger: Logger, sig: SignalFd, pidfile: Option<String>) -> Supervisor {
        let mut procs = Vec::new();
        let mut group_priority = Vec::new();
        for g in config.groups {
            for p in g.processes {
                procs.push(Process::new(p));
                group_priority.push(g.priority);
            }
        }
        Supervisor {
            procs,
            group_priority,
            by_pid: HashMap::new(),
            logger,
            sig,
            epoch: Instant::now(),
            base_env: crate::config::process_env(),
            shutdown: None,
            pidfile,
            no_children: false,
            control: None,
            ctl_facts: ControlFacts::default(),
            serving: false,
        }
    }

    /// Serve the control interface from the loop (docs/control.md).
    pub fn with_control(mut self, server: Option<crate::ctl::Server>, facts: ControlFacts) -> Supervisor {
        self.serving = server.is_some();
        self.control = server;
        self.ctl_facts = facts;
        self
    }

    fn now(&self) -> Millis {
        self.epoch.elapsed().as_millis() as Millis
    }

    /// Run until shutdown completes; returns rinit's exit status.
    pub fn run(mut self) -> i32 {
        let now = self.now();
        for i in 0..self.procs.len() {
            if self.procs[i].cfg.autostart {
                let mut out = Vec::new();
                self.procs[i].start(now, &mut out);
                self.perform(i, out);
            }
        }
        let mut set = PollSet::new();
        let mut control = self.control.take();
        loop {
            self.after_events();
            // Control: answer the deferred calls this pass completed.
            if let Some(c) = control.as_mut() {
                let now = self.now();
                c.poll_pending(now, &mut self);
            }
            if let Some(status) = self.finished() {
                self.remove_pidfile();
                return status;
            }
            let mut timeout = self.poll_timeout();
            // Other concerns add their descriptors here and read their
            // slots' readiness after `wait` (docs/design.md, the loop).
            set.clear();
            set.add(self.sig.raw(), libc::POLLIN);
            // Control: its sockets, and its connections' deadlines.
            if let Some(c) = control.as_mut() {
                c.register(&mut set);
                if let Some(d) = c.deadline() {
                    let ms = d.saturating_sub(self.now()).min(i32::MAX as Millis) as i32;
                    timeout = if timeout < 0 { ms } else { timeout.min(ms) };
                }
            }
            set.wait(timeout);
            let sigs = self.sig.drain();
            self.fire_deadlines();
            self.reap();
            for s in sigs {
                self.on_signal(s);
            }
            // Control: serve the sockets `wait` reported.
            if let Some(c) = control.as_mut() {
                let now = self.now();
                c.dispatch(&set, now, &mut self);
            }
        }
    }

    /// Milliseconds until the nearest deadline, or -1 to sleep until a signal.
    fn poll_timeout(&self) -> i32 {
        let now = self.now();
        let mut next: Option<Millis> = self.procs.iter().filter_map(Process::next_deadline).min();
        if let Some(sd) = &self.shutdown {
            let mut consider = |t: Millis| next = Some(next.map_or(t, |n| n.min(t)));
            if let Some(t) = sd.final_term_at {
                consider(
                    t + if sd.final_kill_sent {
                        FINAL_GIVE_UP_AFTER
                    } else {
                        FINAL_KILL_AFTER
                    },
                );
            } else if let Some(t) = sd.last_waiting_log {
                if self.procs.iter().any(|p| !p.state.is_stopped_class()) {
                    consider(t + WAITING_LOG_EVERY);
                }
            }
        }
        match next {
            None => -1,
            Some(t) if t <= now => 0,
            Some(t) => (t - now).min(i32::MAX as Millis) as i32,
        }
    }

    fn fire_deadlines(&mut self) {
        let now = self.now();
        for i in 0..self.procs.len() {
            if self.procs[i].next_deadline().is_some_and(|d| d <= now) {
                let mut out = Vec::new();
                self.procs[i].tick(now, &mut out);
                self.perform(i, out);
            }
        }
    }

    /// Reap every child that has ended: a program's main pid goes to its
    /// machine, anything else is an orphan.
    fn reap(&mut self) {
        let mut ended = Vec::new();
        self.no_children = false;
        loop {
            match sys::reap_one() {
                Ok(Some(r)) => ended.push(r),
                Ok(None) => break,
                Err(e) => {
                    self.no_children = e.raw_os_error() == Some(libc::ECHILD);
                    if e.raw_os_error() != Some(libc::ECHILD) {
                        let msg = format!(
                            "waitpid error {}; a process may not be cleaned up properly",
                            sys::errno_name(&e)
                        );
                        self.logger.log(Level::Crit, &msg);
                    }
                    break;
                }
            }
        }
        for r in ended {
            let now = self.now();
            match self.by_pid.remove(&r.pid) {
                Some(i) => {
                    let leftovers = if sys::group_exists(r.pid) {
                        sys::group_members(r.pid)
                    } else {
                        0
                    };
                    let mut out = Vec::new();
                    self.procs[i].exited(now, r.exit, leftovers, &mut out);
                    self.perform(i, out);
                }
                None => {
                    let msg = format!("reaped unknown pid {} ({})", r.pid, r.exit.describe());
                    self.logger.log(Level::Info, &msg);
                }
            }
        }
        self.check_cleanups();
    }

    /// A respawn waiting for its old process group to empty can go now.
    fn check_cleanups(&mut self) {
        for i in 0..self.procs.len() {
            if let Some(pgid) = self.procs[i].cleanup_pgid() {
                if !sys::group_exists(pgid) {
                    let now = self.now();
                    let mut out = Vec::new();
                    self.procs[i].group_gone(now, &mut out);
                    self.perform(i, out);
                }
            }
        }
    }

    fn on_signal(&mut self, sig: i32) {
        match sig {
            libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => {
                // The programs get their stop signals before the records
                // describing them are written: `docker stop` should not
                // wait on rinit's own stdout.
                self.logger.hold();
                let msg = format!("received {} indicating exit request", signal_name(sig));
                self.logger.log(Level::Warn, &msg);
                if self.shutdown.is_some() {
                    self.kill_everything_now();
                } else {
                    self.begin_shutdown(0);
                }
                self.logger.release();
            }
            libc::SIGHUP => {
                if self.shutdown.is_some() {
                    self.logger.log(
                        Level::Warn,
                        "ignored SIGHUP indicating restart request (shutdown in progress)",
                    );
                } else {
                    self.logger.log(
                        Level::Warn,
                        "received SIGHUP indicating restart request; reload is not supported yet, nothing changed",
                    );
                }
            }
            libc::SIGUSR2 => {
                self.logger
                    .log(Level::Info, "received SIGUSR2 indicating log reopen request");
                match self.logger.reopen() {
                    Ok(()) => self.logger.log(Level::Info, "supervisord logreopen"),
                    Err(e) => self.logger.log(Level::Crit, &e),
                }
            }
            libc::SIGCHLD => self
                .logger
                .log(Level::Debg, "received SIGCHLD indicating a child quit"),
            other => {
                let msg = format!("received {} indicating nothing", signal_name(other));
                self.logger.log(Level::Debg, &msg);
            }
        }
    }

    /// Carry out a machine's actions for process `i` (and the actions that
    /// result from them, e.g. a spawn error leading to BACKOFF).
    fn perform(&mut self, i: usize, mut actions: Vec<Action>) {
        while !actions.is_empty() {
            let mut more = Vec::new();
            for a in actions {
                match a {
                    Action::Log(level, msg) => self.logger.log(level, &msg),
                    Action::Spawn => self.spawn(i, &mut more),
                    Action::Kill { pid, sig, group } => self.kill(i, pid, sig, group),
                    Action::Shutdown { status } => {
                        if self.shutdown.is_none() {
                            let msg = format!(
                                "{} ended and has shutdown_on={}: shutting down with status {}",
                                self.procs[i].name(),
                                shutdown_on_word(self.procs[i].cfg.shutdown_on),
                                status
                            );
                            self.logger.log(Level::Warn, &msg);
                            self.begin_shutdown(status);
                        }
                    }
                }
            }
            actions = more;
        }
    }

    fn spawn(&mut self, i: usize, out: &mut Vec<Action>) {
        let result = spawn::spawn_program(&self.procs[i].cfg, &self.base_env);
        // The time after the fork: the 1-s guard between spawns is measured
        // from when the process really started, as the log line shows it.
        let now = self.now();
        match result {
            Ok(pid) => {
                self.by_pid.insert(pid, i);
                self.procs[i].spawned(now, pid, out);
            }
            Err(e) => self.procs[i].spawn_failed(now, &e.to_string(), out),
        }
    }

    fn kill(&mut self, i: usize, pid: i32, sig: i32, group: bool) {
        if let Err(e) = sys::kill(pid, sig, group) {
            let name = self.procs[i].name().to_string();
            let msg = format!(
                "unable to signal {} (pid {}), it probably just exited on its own: {}",
                name,
                pid,
                sys::errno_name(&e)
            );
            let level = if e.raw_os_error() == Some(libc::ESRCH) {
                Level::Debg
            } else {
                Level::Crit
            };
            self.logger.log(level, &msg);
        }
    }

    /// §3.5: when every process is settled and nothing can start one again,
    /// shut down with 0 if every last exit was expected, 1 otherwise.
    fn after_events(&mut self) {
        if self.shutdown.is_none() && !self.serving && self.procs.iter().all(Process::is_settled) {
            let status = if self.procs.iter().all(Process::ended_well) {
                0
            } else {
                1
            };
            let msg = format!("no program left to run: shutting down with status {status}");
            self.logger.log(Level::Info, &msg);
            self.begin_shutdown(status);
        }
        self.advance_shutdown();
    }

    fn begin_shutdown(&mut self, status: i32) {
        for p in &mut self.procs {
            p.halt();
        }
        let mut order: Vec<usize> = (0..self.procs.len()).collect();
        // Highest priority number first; within it, reverse start order.
        order.sort_by(|a, b| {
            self.group_priority[*b]
                .cmp(&self.group_priority[*a])
                .then(b.cmp(a))
        });
        let mut batches: Vec<Vec<usize>> = Vec::new();
        for i in order {
            match batches.last_mut() {
                Some(last)
                    if last.first().map(|f| self.group_priority[*f]) == Some(self.group_priority[i]) =>
                {
                    last.push(i)
                }
                _ => batches.push(vec![i]),
            }
        }
        self.shutdown = Some(Shutdown {
            batches,
            next_batch: 0,
            status,
            last_waiting_log: None,
            final_term_at: None,
            final_kill_sent: false,
            hurry: false,
        });
        self.advance_shutdown();
    }

    /// Stop the next priority batch once the previous one has stopped;
    /// after the last, TERM (then KILL) whatever is left in the tree.
    fn advance_shutdown(&mut self) {
        loop {
            let Some(sd) = self.shutdown.as_ref() else { return };
            if sd.final_term_at.is_some() {
                self.final_phase();
                return;
            }
            let busy = sd.next_batch > 0
                && sd
                    .batches
                    .get(sd.next_batch - 1)
                    .is_some_and(|b| b.iter().any(|&i| !self.procs[i].state.is_stopped_class()));
            if busy {
                self.log_waiting();
                return;
            }
            let Some(batch) = sd.batches.get(sd.next_batch).cloned() else {
                self.begin_final_phase();
                return;
            };
            if let Some(sd) = self.shutdown.as_mut() {
                sd.next_batch += 1;
            }
            let now = self.now();
            for i in batch {
                let mut out = Vec::new();
                self.procs[i].stop(now, true, &mut out);
                self.perform(i, out);
            }
            self.log_waiting();
        }
    }

    /// `waiting for a, b to die`: at the first stop, then every 3 s.
    fn log_waiting(&mut self) {
        let now = self.now();
        let Some(sd) = self.shutdown.as_mut() else { return };
        let due = match sd.last_waiting_log {
            None => true,
            Some(t) => now >= t + WAITING_LOG_EVERY,
        };
        if !due {
            return;
        }
        let names: Vec<&str> = self
            .procs
            .iter()
            .filter(|p| !p.state.is_stopped_class())
            .map(|p| p.name())
            .collect();
        if names.is_empty() {
            return;
        }
        sd.last_waiting_log = Some(now);
        let msg = format!("waiting for {} to die", names.join(", "));
        self.logger.log(Level::Info, &msg);
    }

    fn begin_final_phase(&mut self) {
        let now = self.now();
        // With no child left there is no descendant either (orphans are
        // re-parented to rinit): no need to scan /proc.
        self.reap();
        let signalled = if self.no_children {
            0
        } else {
            self.signal_leftovers(libc::SIGTERM)
        };
        if signalled > 0 {
            // Usually members of a group that got its stop signal a moment
            // ago and are dying already: their `reaped` lines tell the rest.
            let msg = format!("sending SIGTERM to {signalled} remaining process(es)");
            self.logger.log(Level::Debg, &msg);
        }
        if let Some(sd) = self.shutdown.as_mut() {
            sd.final_term_at = Some(now);
        }
        self.final_phase();
    }

    fn final_phase(&mut self) {
        let now = self.now();
        let Some(sd) = self.shutdown.as_ref() else { return };
        let Some(t) = sd.final_term_at else { return };
        if !sd.final_kill_sent && (sd.hurry || now >= t + FINAL_KILL_AFTER) {
            let n = self.signal_leftovers(libc::SIGKILL);
            if n > 0 {
                let msg = format!("sending SIGKILL to {n} remaining process(es)");
                self.logger.log(Level::Warn, &msg);
            }
            if let Some(sd) = self.shutdown.as_mut() {
                sd.final_kill_sent = true;
                sd.final_term_at = Some(now);
            }
        }
    }

    /// Signal every process left in rinit's tree; returns how many.
    fn signal_leftovers(&mut self, sig: i32) -> usize {
        let me = sys::getpid();
        let targets = sys::descendants(me);
        for pid in &targets {
            // SAFETY: plain kill of a positive pid found in /proc.
            unsafe { libc::kill(*pid, sig) };
        }
        targets.len()
    }

    /// The exit status once shutdown is complete: every program stopped and
    /// no child left (or the give-up delay for unkillable ones passed).
    fn finished(&mut self) -> Option<i32> {
        self.shutdown.as_ref()?.final_term_at?;
        self.reap();
        let sd = self.shutdown.as_ref()?;
        let t = sd.final_term_at?;
        let no_children = self.no_children;
        let gave_up = sd.final_kill_sent && self.now() >= t + FINAL_GIVE_UP_AFTER;
        if no_children || gave_up {
            Some(sd.status)
        } else {
            None
        }
    }

    /// A second exit request: SIGKILL every process group now, and skip the
    /// leftovers' grace period.
    fn kill_everything_now(&mut self) {
        if let Some(sd) = self.shutdown.as_mut() {
            sd.hurry = true;
        }
        self.final_phase();
        let now = self.now();
        for i in 0..self.procs.len() {
            let mut out = Vec::new();
            self.procs[i].stop(now, true, &mut out);
            self.procs[i].kill_now(now, &mut out);
            self.perform(i, out);
        }
    }

    fn remove_pidfile(&mut self) {
        if let Some(p) = &self.pidfile {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn shutdown_on_word(s: crate::config::ShutdownOn) -> &'static str {
    use crate::config::ShutdownOn::*;
    match s {
        Never => "never",
        Fatal => "fatal",
        Unexpected => "unexpected",
        Any => "any",
    }
}

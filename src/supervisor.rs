//! Config mode: the one event loop. Each pass collects the deadlines and
//! descriptors of every source, waits once in `poll`, then dispatches what
//! happened to the pure decision makers (the process machines in
//! `machine.rs`, the shutdown in `shutdown.rs`) and performs the actions
//! they return: spawn, kill, log, reap. Nothing here decides a transition
//! (docs/state-machine.md).
//!
//! The places a new source plugs in: `poll_timeout` (its deadline),
//! `run` (its descriptors in the `PollSet`, and its dispatch after `wait`).

use crate::config::Config;
use crate::environ::Environ;
use crate::events::Event;
use crate::log::{Level, Line, Logger};
use crate::machine::{signal_name, Action, Millis, Process};
use crate::output::Output;
use crate::pollset::PollSet;
use crate::shutdown::{self, Shutdown, Step};
use crate::signals::SignalFd;
use crate::users::UserDb;
use crate::{spawn, sys};
use std::collections::HashMap;

/// At most this many forks per pass of the loop, so that signals, reaping
/// and deadlines are served between batches of a burst (numprocs=10000
/// spawned everything before the loop began and noticed a TERM 5 s late).
const SPAWNS_PER_PASS: usize = 64;

// Event listeners and the events they receive (docs/events.md).
mod listeners;
// SIGHUP: apply a changed configuration (docs/reload.md).
mod reload;
use listeners::Listeners;
pub use reload::Loader;

// The control interface's view of this loop (docs/control.md).
mod ctl_view;
pub use ctl_view::Facts as ControlFacts;

pub struct Supervisor {
    procs: Vec<Process>,
    /// Group priority of each process (shutdown order).
    group_priority: Vec<i32>,
    by_pid: HashMap<i32, usize>,
    logger: Logger,
    sig: SignalFd,
    /// The monotonic clock's reading at start-up (`sys::monotonic_millis`).
    epoch: Millis,
    /// rinit's own environment, the base of every child's.
    base_env: Environ,
    shutdown: Option<Shutdown>,
    /// The pidfile's path and rinit's pid, until the first pass of the
    /// loop has forked the first programs and writes it (docs/design.md,
    /// "Start-up").
    pidfile_due: Option<(String, i32)>,
    /// The pidfile written, removed at exit.
    pidfile: Option<String>,
    /// The last reap found that rinit has no child at all.
    no_children: bool,
    /// Forks left in this pass (see `SPAWNS_PER_PASS`).
    spawn_budget: usize,
    /// The next process to consider for its autostart at boot.
    boot_next: usize,
    /// Where `fire_deadlines` resumes after running out of forks.
    tick_from: usize,
    /// Starts asked for (control interface) once this pass's forks were
    /// spent: they go in the next passes, so `start all` with
    /// `numprocs=1000` never holds the loop.
    start_queue: std::collections::VecDeque<usize>,
    /// Set when the shutdown is complete: rinit's exit status.
    exit_status: Option<i32>,
    /// Captured program output (docs/output.md).
    output: Output,
    /// Event listener pools and their events (docs/events.md).
    listeners: Listeners,
    /// Control interface: its server (taken by `run`) and what it reports.
    control: Option<crate::ctl::Server>,
    ctl_facts: ControlFacts,
    /// A control interface is configured: rinit stays up with nothing left
    /// to run, since a program can be started again (docs/control.md).
    serving: bool,
    /// What a reload needs: how to read the config again, and what of the
    /// running one it compares with (docs/reload.md).
    reloads: reload::Reloads,
}

impl Supervisor {
    /// Takes the config by value: with `numprocs=1000` a second copy of
    /// every process's settings would double rinit's memory. `env` is
    /// rinit's own environment, the base of every child's. Not inlined:
    /// its temporaries would stay on the stack under the whole event loop.
    #[inline(never)]
    pub fn new(
        config: Config,
        env: Environ,
        mut logger: Logger,
        sig: SignalFd,
        pidfile: (String, i32),
    ) -> Supervisor {
        let listeners = Listeners::new(&config.groups, &config.supervisord.identifier, &mut logger);
        let reloads = reload::Reloads::new(&config.groups, config.supervisord);
        let mut procs = Vec::new();
        let mut group_priority = Vec::new();
        for g in config.groups {
            for mut p in g.processes {
                // `serverurl=AUTO` (unset): children get the URL of the
                // configured server, as supervisord gives it
                // (SUPERVISOR_SERVER_URL; superlance needs it).
                if p.serverurl.is_none() {
                    p.serverurl.clone_from(&config.serverurl);
                }
                procs.push(Process::new(p));
                group_priority.push(g.priority);
            }
        }
        let output = Output::new(procs.iter().map(|p: &Process| &p.cfg));
        let mut sup = Supervisor {
            output,
            listeners,
            procs,
            group_priority,
            by_pid: HashMap::new(),
            logger,
            sig,
            epoch: crate::sys::monotonic_millis(),
            base_env: env,
            shutdown: None,
            pidfile_due: Some(pidfile),
            pidfile: None,
            no_children: false,
            spawn_budget: SPAWNS_PER_PASS,
            boot_next: 0,
            tick_from: 0,
            start_queue: std::collections::VecDeque::new(),
            exit_status: None,
            control: None,
            ctl_facts: ControlFacts::default(),
            serving: false,
            reloads,
        };
        sup.tap_output_for_events();
        sup
    }

    /// PROCESS_LOG and capture mode see the bytes the output layer reads
    /// (docs/events.md); only when some process needs it.
    fn tap_output_for_events(&mut self) {
        if self.listeners.wants_output(&self.procs) {
            let queue = self.listeners.chunk_queue();
            self.output.set_tap(Box::new(move |i, ch, data| {
                queue.borrow_mut().push((i, ch, data.to_vec()))
            }));
        }
    }

    /// How to read the configuration again on SIGHUP (docs/reload.md).
    pub fn set_reload(&mut self, load: reload::Loader) {
        self.reloads.set_loader(load);
    }

    /// Serve the control interface from the loop (docs/control.md).
    pub fn set_control(&mut self, server: Option<crate::ctl::Server>, facts: ControlFacts) {
        self.serving = server.is_some();
        self.control = server;
        self.ctl_facts = facts;
    }

    fn now(&self) -> Millis {
        crate::sys::monotonic_millis().saturating_sub(self.epoch)
    }

    /// Run until shutdown completes; returns rinit's exit status.
    pub fn run(mut self) -> i32 {
        let mut set = PollSet::new();
        let mut control = self.control.take();
        self.listeners
            .publish(Event::supervisor_state(true), &mut self.logger);
        loop {
            self.spawn_budget = SPAWNS_PER_PASS;
            self.boot_batch();
            if let Some((path, pid)) = self.pidfile_due.take() {
                // The first programs are forked: creating the pidfile can
                // take the kernel a millisecond, and a child the scheduler
                // put on rinit's own CPU would wait for it. Let it run
                // first (docs/design.md, "Start-up").
                if self.spawn_budget < SPAWNS_PER_PASS {
                    sys::yield_cpu();
                }
                self.pidfile = crate::pidfile::write(&path, pid, &mut self.logger);
            }
            self.after_events();
            // Control: answer the deferred calls this pass completed.
            if let Some(c) = control.as_mut() {
                let now = self.now();
                c.poll_pending(now, &mut self);
            }
            if let Some(status) = self.exit_status {
                self.remove_pidfile();
                let now = self.now();
                self.output.finish(now, &mut self.logger);
                // One last non-blocking try for what a slow consumer has
                // not taken; never a wait (docs/output.md).
                self.logger.flush();
                // rinit exits with this status next (`main`): freeing every
                // process's settings, buffers and maps piece by piece first
                // cost a twentieth of its start-up. The control server's
                // drop is kept: it removes its socket file.
                drop(control);
                std::mem::forget(self);
                return status;
            }
            let mut timeout = self.poll_timeout();
            // Other sources add their descriptors here and read their
            // slots' readiness after `wait` (docs/state-machine.md, "The
            // event loop").
            set.clear();
            set.add(self.sig.raw(), libc::POLLIN);
            // Output (docs/output.md): rinit's own writers waiting for a
            // slow consumer.
            for fd in self.logger.waiting_fds() {
                set.add(fd, libc::POLLOUT);
            }
            // ... and the program pipes it reads.
            self.output.register(&mut set);
            // Event listeners: their stdout, and their stdin when a write
            // is pending.
            self.listeners.register(&mut set);
            // Control: its sockets, and its connections' deadlines.
            if let Some(c) = control.as_mut() {
                c.register(&mut set);
                if let Some(d) = c.deadline() {
                    let ms = d.saturating_sub(self.now()).min(i32::MAX as Millis) as i32;
                    timeout = if timeout < 0 { ms } else { timeout.min(ms) };
                }
            }
            set.wait(timeout);
            self.logger.flush();
            let now = self.now();
            self.output.dispatch(&set, now, &mut self.logger);
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
            // Events: listeners' answers, output events, ticks, deliveries.
            self.listeners.dispatch(&set, &self.procs, &mut self.logger);
        }
    }

    /// Start the next autostart programs, as many as this pass's forks allow
    /// (a shutdown halts every process, so the rest are never started).
    fn boot_batch(&mut self) {
        while self.spawn_budget > 0 && self.shutdown.is_none() {
            let Some(i) = self.start_queue.pop_front() else {
                break;
            };
            self.start_now(i);
        }
        while self.boot_next < self.procs.len() && self.spawn_budget > 0 {
            let i = self.boot_next;
            self.boot_next += 1;
            if self.procs[i].cfg.autostart && !self.reloads.held(i) {
                let now = self.now();
                let mut out = Vec::new();
                self.procs[i].start(now, &mut out);
                self.perform(i, out);
            }
        }
    }

    /// Start process `i` now (a request), or in a later pass when this
    /// pass's forks are spent.
    fn start_or_queue(&mut self, i: usize) {
        if self.spawn_budget == 0 {
            if !self.start_queue.contains(&i) {
                self.start_queue.push_back(i);
            }
        } else {
            self.start_now(i);
        }
    }

    fn start_now(&mut self, i: usize) {
        let now = self.now();
        let mut out = Vec::new();
        if let Some(p) = self.procs.get_mut(i) {
            p.start(now, &mut out);
        }
        self.perform(i, out);
    }

    fn booting(&self) -> bool {
        self.shutdown.is_none() && (self.boot_next < self.procs.len() || !self.start_queue.is_empty())
    }

    /// Milliseconds until the nearest deadline, or -1 to sleep until a signal.
    fn poll_timeout(&self) -> i32 {
        let now = self.now();
        if self.booting() {
            return 0;
        }
        let mut next: Option<Millis> = self.procs.iter().filter_map(Process::next_deadline).min();
        // A partial output line due for its idle flush (docs/output.md).
        if let Some(t) = self.output.next_deadline() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        // A tick event someone subscribes to (docs/events.md).
        if let Some(t) = self.listeners.next_deadline(now) {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        if let Some(t) = self
            .shutdown
            .as_ref()
            .and_then(|sd| sd.next_deadline(&self.procs))
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        timeout_until(now, next)
    }

    /// Tick every process whose deadline is due. Once this pass's forks are
    /// spent, the processes whose tick may fork wait for the next pass (their
    /// deadline stays due, so it comes at once), starting where this one
    /// stopped so that no process is starved.
    fn fire_deadlines(&mut self) {
        let now = self.now();
        let n = self.procs.len();
        let from = self.tick_from;
        let mut resume = None;
        for k in 0..n {
            let i = (from + k) % n;
            if self.spawn_budget == 0 && self.procs[i].may_spawn_on_tick() {
                resume.get_or_insert(i);
                continue;
            }
            if self.procs[i].next_deadline().is_some_and(|d| d <= now) {
                let mut out = Vec::new();
                self.procs[i].tick(now, &mut out);
                self.perform(i, out);
            }
        }
        self.tick_from = resume.unwrap_or(0);
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
                    // The program's last output comes before its exit line.
                    self.output.exited(i, now, &mut self.logger);
                    self.listeners.ended(i, &mut self.logger);
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
                let msg = Line::new()
                    .s("received ")
                    .sig(sig)
                    .s(" indicating exit request")
                    .done();
                self.logger.log(Level::Warn, &msg);
                let now = self.now();
                if let Some(sd) = self.shutdown.as_mut() {
                    let steps = sd.hurry(now);
                    self.perform_shutdown(steps);
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
                    self.logger
                        .log(Level::Warn, "received SIGHUP indicating restart request");
                    self.reload();
                }
            }
            libc::SIGUSR2 => {
                self.logger
                    .log(Level::Info, "received SIGUSR2 indicating log reopen request");
                match self.logger.reopen() {
                    Ok(()) => self.logger.log(Level::Info, "supervisord logreopen"),
                    Err(e) => self.logger.log(Level::Crit, &e),
                }
                // Program log files too (docs/output.md, logrotate), and the
                // ones that could not be opened so far.
                let now = self.now();
                self.output.reopen(now, &mut self.logger);
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
                    Action::Spawn => {
                        self.spawn_budget = self.spawn_budget.saturating_sub(1);
                        self.spawn(i, &mut more);
                    }
                    Action::Kill { pid, sig, group } => self.kill(i, pid, sig, group),
                    Action::Transition(change) => {
                        self.listeners
                            .transition(&self.procs[i].cfg, change, &mut self.logger)
                    }
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
        let result = if self.listeners.is_listener(i) {
            spawn::spawn_listener(&self.procs[i].cfg, &self.base_env, &UserDb::default()).map(
                |(pid, pipes)| {
                    self.listeners.spawned(i, pipes);
                    pid
                },
            )
        } else {
            self.output
                .spawn(i, &self.procs[i].cfg, &self.base_env, &mut self.logger)
        };
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

    /// When every process is settled and nothing can start one again,
    /// shut down (status 0 if every last exit was expected, 1 otherwise);
    /// during a shutdown, whatever it has due.
    fn after_events(&mut self) {
        self.start_released();
        if !self.booting() && self.shutdown.is_none() && !self.serving {
            if let Some(status) = shutdown::nothing_left(&self.procs) {
                let msg = format!("no program left to run: shutting down with status {status}");
                self.logger.log(Level::Info, &msg);
                self.begin_shutdown(status);
            }
        }
        self.drive_shutdown();
    }

    fn begin_shutdown(&mut self, status: i32) {
        self.listeners
            .publish(Event::supervisor_state(false), &mut self.logger);
        for p in &mut self.procs {
            p.halt();
        }
        self.boot_next = self.procs.len();
        self.shutdown = Some(Shutdown::new(status, &self.group_priority));
        self.drive_shutdown();
    }

    /// Perform the shutdown's steps until it has nothing more due now
    /// (each call either moves it on or returns nothing; the bound is a
    /// guard, not a limit ever reached).
    fn drive_shutdown(&mut self) {
        for _ in 0..self.procs.len().saturating_mul(2).saturating_add(8) {
            let now = self.now();
            let Some(sd) = self.shutdown.as_mut() else { return };
            let (procs, listeners) = (&self.procs, &self.listeners);
            let steps = sd.advance(now, procs, self.no_children, |i| listeners.draining(i, procs));
            if steps.is_empty() {
                return;
            }
            self.perform_shutdown(steps);
        }
    }

    fn perform_shutdown(&mut self, steps: Vec<Step>) {
        let now = self.now();
        for step in steps {
            match step {
                Step::Stop(i) => {
                    let mut out = Vec::new();
                    if let Some(p) = self.procs.get_mut(i) {
                        p.stop(now, true, &mut out);
                    }
                    self.perform(i, out);
                }
                Step::Log(level, msg) => self.logger.log(level, &msg),
                Step::SignalLeftovers { sig, level } => {
                    // Reap first: with no child left there is nothing to
                    // scan /proc for.
                    self.reap();
                    let n = if self.no_children {
                        0
                    } else {
                        self.signal_leftovers(sig)
                    };
                    if n > 0 {
                        // Usually members of a group that got its stop
                        // signal a moment ago and are dying already: their
                        // `reaped` lines tell the rest.
                        let msg = format!("sending {} to {n} remaining process(es)", signal_name(sig));
                        self.logger.log(level, &msg);
                    }
                }
                Step::KillAll => {
                    for i in 0..self.procs.len() {
                        let mut out = Vec::new();
                        self.procs[i].stop(now, true, &mut out);
                        self.procs[i].kill_now(now, &mut out);
                        self.perform(i, out);
                    }
                }
                Step::Exit(status) => self.exit_status = Some(status),
            }
        }
    }

    /// Signal every process left in rinit's tree; returns how many.
    fn signal_leftovers(&mut self, sig: i32) -> usize {
        let targets = sys::descendants(sys::getpid());
        for &pid in &targets {
            match sys::kill(pid, sig, false) {
                // Gone since the scan.
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    let msg = format!("unable to signal pid {pid}: {}", sys::errno_name(&e));
                    self.logger.log(Level::Warn, &msg);
                }
                _ => {}
            }
        }
        targets.len()
    }

    fn remove_pidfile(&mut self) {
        if let Some(p) = &self.pidfile {
            crate::pidfile::remove(p);
        }
    }
}

/// poll(2)'s timeout for the nearest deadline `next`: -1 (sleep until a
/// descriptor is ready) when there is none, else the milliseconds left,
/// capped at i32::MAX (a deadline centuries away just wakes the loop every
/// 24 days to recompute).
fn timeout_until(now: Millis, next: Option<Millis>) -> i32 {
    match next {
        None => -1,
        Some(t) => i32::try_from(t.saturating_sub(now)).unwrap_or(i32::MAX),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeout_of_a_deadline_at_the_end_of_time_is_capped_not_wrapped() {
        assert_eq!(timeout_until(5, None), -1);
        assert_eq!(timeout_until(5, Some(3)), 0);
        assert_eq!(timeout_until(5, Some(5)), 0);
        assert_eq!(timeout_until(5, Some(1005)), 1000);
        assert_eq!(timeout_until(0, Some(Millis::MAX)), i32::MAX);
        assert_eq!(timeout_until(0, Some(i32::MAX as Millis + 1)), i32::MAX);
    }
}

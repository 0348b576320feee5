//! rinit's shutdown as pure logic (docs/state-machine.md, "Shutdown"):
//! the programs are stopped one priority batch after another, then whatever
//! is left in rinit's process tree gets SIGTERM, SIGKILL a second later, and
//! rinit gives up waiting on processes that even SIGKILL does not end.
//!
//! Like the process machine, it never reads a clock and never makes a
//! system call: [`Shutdown::advance`] takes `now`, the processes and what the
//! last reap found, and returns the [`Step`]s for the event loop to perform.

use crate::log::{Level, Line};
use crate::machine::{Millis, Process};

/// supervisord repeats `waiting for … to die` at most this often.
const WAITING_LOG_EVERY: Millis = 3000;
/// After the programs, leftovers get TERM, then KILL this much later.
const FINAL_KILL_AFTER: Millis = 1000;
/// A process stuck in the kernel may not die even of SIGKILL: stop waiting.
const FINAL_GIVE_UP_AFTER: Millis = 5000;
/// A batch of event listeners waits at most this long for their pools to
/// deliver what they hold (the programs' last state changes), so that a
/// stuck listener cannot hold the shutdown (docs/events.md).
const DRAIN_AT_MOST: Millis = 2000;

/// What the event loop must do for the shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `Process::stop(now, true)` on process `i`, performing its actions.
    Stop(usize),
    Log(Level, String),
    /// Send `sig` to every process left in rinit's tree (after a reap, and
    /// only when a child is left); when any was signalled, log
    /// `sending SIG to N remaining process(es)` at `level`.
    SignalLeftovers {
        sig: i32,
        level: Level,
    },
    /// A second exit request: `Process::stop(now, true)` then
    /// `Process::kill_now` on every process.
    KillAll,
    /// The shutdown is complete: exit with this status.
    Exit(i32),
}

/// Where the shutdown is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stopping the priority batches; `next` is the next one to stop.
    Batches {
        next: usize,
    },
    /// Every program has stopped and the leftovers got SIGTERM: SIGKILL
    /// is due at `kill_at`.
    Leftovers {
        kill_at: Millis,
    },
    /// The leftovers got SIGKILL: stop waiting for them at `give_up_at`.
    Killed {
        give_up_at: Millis,
    },
    Done,
}

pub struct Shutdown {
    /// Process indexes in stop order: by priority, highest number first.
    order: Vec<usize>,
    /// Where each batch (one priority) ends in `order`.
    batch_ends: Vec<usize>,
    phase: Phase,
    status: i32,
    last_waiting_log: Option<Millis>,
    /// A batch was just stopped: the `waiting for` line is due once its
    /// stops are performed.
    just_stopped: bool,
    /// A second exit request arrived: no more grace periods.
    hurry: bool,
    /// The next batch waits for listeners to drain until then.
    drain_until: Option<Millis>,
}

impl Shutdown {
    /// A shutdown that will exit with `status`; `priorities[i]` is process
    /// `i`'s group priority. Highest priority number stops first; within a
    /// priority, the reverse of the start order, all at once.
    pub fn new(status: i32, priorities: &[i32]) -> Shutdown {
        let mut order: Vec<usize> = (0..priorities.len()).collect();
        let prio = |i: usize| priorities.get(i).copied().unwrap_or(0);
        order.sort_by(|a, b| prio(*b).cmp(&prio(*a)).then(b.cmp(a)));
        // One list cut into batches, not a list per batch: each of those
        // was an allocation and a reallocation per process added.
        let mut batch_ends = Vec::new();
        for (k, pair) in order.windows(2).enumerate() {
            if let [a, b] = pair {
                if prio(*a) != prio(*b) {
                    batch_ends.push(k + 1);
                }
            }
        }
        if !order.is_empty() {
            batch_ends.push(order.len());
        }
        Shutdown {
            order,
            batch_ends,
            phase: Phase::Batches { next: 0 },
            status,
            last_waiting_log: None,
            just_stopped: false,
            hurry: false,
            drain_until: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Everything that is due at `now`. `no_children`: the last reap found
    /// that rinit has no child at all. `draining(i)`: process `i` is an
    /// event listener whose pool still holds events; its batch waits for
    /// that, at most `DRAIN_AT_MOST`. The loop performs the steps and calls
    /// again until no step is returned (a batch whose processes are already
    /// stopped lets the next one go at once).
    pub fn advance(
        &mut self,
        now: Millis,
        procs: &[Process],
        no_children: bool,
        draining: impl Fn(usize) -> bool,
    ) -> Vec<Step> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Batches { next } => {
                if std::mem::take(&mut self.just_stopped) {
                    self.log_waiting(now, procs, &mut out);
                }
                let busy = next > 0
                    && batch(&self.order, &self.batch_ends, next - 1)
                        .is_some_and(|b| b.iter().any(|&i| unstopped(procs, i)));
                if busy {
                    self.log_waiting(now, procs, &mut out);
                    return out;
                }
                match batch(&self.order, &self.batch_ends, next) {
                    Some(batch) => {
                        if !self.hurry && batch.iter().any(|&i| draining(i)) {
                            let until = *self.drain_until.get_or_insert(now.saturating_add(DRAIN_AT_MOST));
                            if now < until {
                                return out;
                            }
                        }
                        self.drain_until = None;
                        out.extend(batch.iter().map(|&i| Step::Stop(i)));
                        self.phase = Phase::Batches { next: next + 1 };
                        self.just_stopped = true;
                    }
                    // With no child left there is no descendant either
                    // (orphans are re-parented to rinit): done.
                    None if no_children => self.finish(&mut out),
                    None => {
                        out.push(Step::SignalLeftovers {
                            sig: libc::SIGTERM,
                            level: Level::Debg,
                        });
                        self.phase = Phase::Leftovers {
                            kill_at: now.saturating_add(FINAL_KILL_AFTER),
                        };
                    }
                }
            }
            Phase::Leftovers { kill_at } => {
                if no_children {
                    self.finish(&mut out);
                } else if self.hurry || now >= kill_at {
                    self.kill_leftovers(now, &mut out);
                }
            }
            Phase::Killed { give_up_at } => {
                if no_children || now >= give_up_at {
                    self.finish(&mut out);
                }
            }
            Phase::Done => {}
        }
        out
    }

    /// A second exit request: SIGKILL every process group now, and skip the
    /// leftovers' grace period.
    pub fn hurry(&mut self, now: Millis) -> Vec<Step> {
        let mut out = Vec::new();
        self.hurry = true;
        if let Phase::Leftovers { .. } = self.phase {
            self.kill_leftovers(now, &mut out);
        }
        out.push(Step::KillAll);
        out
    }

    /// The next time `advance` has something to do on its own (signals and
    /// exits wake the loop anyway).
    pub fn next_deadline(&self, procs: &[Process]) -> Option<Millis> {
        match self.phase {
            Phase::Batches { .. } => {
                let waiting = (0..procs.len()).any(|i| unstopped(procs, i));
                let log = self
                    .last_waiting_log
                    .filter(|_| waiting)
                    .map(|t| t.saturating_add(WAITING_LOG_EVERY));
                match (log, self.drain_until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Phase::Leftovers { kill_at } => Some(kill_at),
            Phase::Killed { give_up_at } => Some(give_up_at),
            Phase::Done => None,
        }
    }

    fn kill_leftovers(&mut self, now: Millis, out: &mut Vec<Step>) {
        out.push(Step::SignalLeftovers {
            sig: libc::SIGKILL,
            level: Level::Warn,
        });
        self.phase = Phase::Killed {
            give_up_at: now.saturating_add(FINAL_GIVE_UP_AFTER),
        };
    }

    fn finish(&mut self, out: &mut Vec<Step>) {
        self.phase = Phase::Done;
        out.push(Step::Exit(self.status));
    }

    /// `waiting for a, b to die`: at the first stop, then every 3 s.
    fn log_waiting(&mut self, now: Millis, procs: &[Process], out: &mut Vec<Step>) {
        let due = self
            .last_waiting_log
            .is_none_or(|t| now >= t.saturating_add(WAITING_LOG_EVERY));
        if !due {
            return;
        }
        // Built as it goes, without a list of the names first.
        let mut line: Option<Line> = None;
        for p in procs.iter().filter(|p| !p.state().is_stopped_class()) {
            line = Some(match line {
                None => Line::new().s("waiting for ").s(p.name()),
                Some(l) => l.s(", ").s(p.name()),
            });
        }
        let Some(line) = line else {
            return;
        };
        self.last_waiting_log = Some(now);
        out.push(Step::Log(Level::Info, line.s(" to die").done()));
    }
}

/// The process indexes of batch `k` (the `k`-th priority to stop) of
/// `order`, cut at `ends`.
fn batch<'a>(order: &'a [usize], ends: &[usize], k: usize) -> Option<&'a [usize]> {
    let end = *ends.get(k)?;
    let start = match k.checked_sub(1) {
        Some(before) => *ends.get(before)?,
        None => 0,
    };
    order.get(start..end)
}

fn unstopped(procs: &[Process], i: usize) -> bool {
    procs.get(i).is_some_and(|p| !p.state().is_stopped_class())
}

/// When every process is settled and nothing can start one again, the
/// status to shut down with: 0 if every last exit was expected, 1 otherwise.
pub fn nothing_left(procs: &[Process]) -> Option<i32> {
    if !procs.iter().all(Process::is_settled) {
        return None;
    }
    Some(if procs.iter().all(Process::ended_well) {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProcessConfig;
    use crate::machine::{Action, Exit, State};

    /// A running process (pid 100 + i) named `name`.
    fn running(name: &str, i: i32) -> Process {
        let mut p = Process::new(ProcessConfig::for_test(name, "x"));
        let mut a = vec![];
        p.start(0, &mut a);
        p.spawned(0, 100 + i, &mut a);
        p.tick(2000, &mut a);
        assert_eq!(p.state(), State::Running);
        p
    }

    /// A fake event loop: performs the steps on `procs`, records the rest.
    struct World {
        procs: Vec<Process>,
        now: Millis,
        no_children: bool,
        kills: Vec<(i32, i32)>,
        leftover_signals: Vec<i32>,
        log: Vec<String>,
        exit: Option<i32>,
    }

    impl World {
        fn new(procs: Vec<Process>) -> World {
            World {
                procs,
                now: 2000,
                no_children: false,
                kills: vec![],
                leftover_signals: vec![],
                log: vec![],
                exit: None,
            }
        }

        fn drive(&mut self, sd: &mut Shutdown) {
            for _ in 0..100 {
                let steps = sd.advance(self.now, &self.procs, self.no_children, |_| false);
                if steps.is_empty() {
                    return;
                }
                self.perform(steps);
            }
            panic!("advance never settles");
        }

        fn perform(&mut self, steps: Vec<Step>) {
            for s in steps {
                match s {
                    Step::Stop(i) => {
                        let mut a = vec![];
                        self.procs[i].stop(self.now, true, &mut a);
                        self.machine(a);
                    }
                    Step::Log(_, m) => self.log.push(m),
                    Step::SignalLeftovers { sig, .. } => self.leftover_signals.push(sig),
                    Step::KillAll => {
                        for i in 0..self.procs.len() {
                            let mut a = vec![];
                            self.procs[i].stop(self.now, true, &mut a);
                            self.procs[i].kill_now(self.now, &mut a);
                            self.machine(a);
                        }
                    }
                    Step::Exit(st) => self.exit = Some(st),
                }
            }
        }

        fn machine(&mut self, acts: Vec<Action>) {
            for a in acts {
                if let Action::Kill { pid, sig, .. } = a {
                    self.kills.push((pid, sig));
                }
            }
        }

        fn dies(&mut self, i: usize) {
            let mut a = vec![];
            self.procs[i].exited(self.now, Exit::Code(0), 0, &mut a);
        }
    }

    #[test]
    fn batches_stop_in_descending_priority_then_leftovers_get_term_then_kill() {
        // a: priority 1, b and c: priority 5 (stopped together, c first).
        let mut w = World::new(vec![running("a", 0), running("b", 1), running("c", 2)]);
        let mut sd = Shutdown::new(7, &[1, 5, 5]);
        w.drive(&mut sd);
        assert_eq!(w.kills, vec![(102, libc::SIGTERM), (101, libc::SIGTERM)]);
        assert_eq!(w.log, vec!["waiting for a, b, c to die"]);
        assert_eq!(sd.next_deadline(&w.procs), Some(5000));
        w.now = 2500;
        w.dies(1);
        w.drive(&mut sd);
        assert_eq!(w.kills.len(), 2, "a waits for c");
        w.now = 5000;
        w.drive(&mut sd);
        assert_eq!(w.log[1], "waiting for a, c to die");
        w.dies(2);
        w.drive(&mut sd);
        assert_eq!(w.kills[2], (100, libc::SIGTERM));
        w.dies(0);
        w.drive(&mut sd);
        assert_eq!(w.leftover_signals, vec![libc::SIGTERM]);
        assert_eq!(sd.phase(), Phase::Leftovers { kill_at: 6000 });
        assert_eq!(sd.next_deadline(&w.procs), Some(6000));
        w.now = 5999;
        w.drive(&mut sd);
        assert_eq!(w.leftover_signals.len(), 1);
        w.now = 6000;
        w.drive(&mut sd);
        assert_eq!(w.leftover_signals, vec![libc::SIGTERM, libc::SIGKILL]);
        assert_eq!(sd.phase(), Phase::Killed { give_up_at: 11_000 });
        w.no_children = true;
        w.drive(&mut sd);
        assert_eq!(w.exit, Some(7));
        assert_eq!(sd.phase(), Phase::Done);
    }

    #[test]
    fn no_child_left_means_no_leftover_signal_and_an_exit_at_once() {
        let mut w = World::new(vec![running("a", 0)]);
        let mut sd = Shutdown::new(0, &[1]);
        w.drive(&mut sd);
        w.dies(0);
        w.no_children = true;
        w.drive(&mut sd);
        assert!(w.leftover_signals.is_empty());
        assert_eq!(w.exit, Some(0));
    }

    #[test]
    fn unkillable_leftovers_are_given_up_after_five_seconds() {
        let mut w = World::new(vec![]);
        let mut sd = Shutdown::new(3, &[]);
        w.drive(&mut sd);
        w.now = 3000;
        w.drive(&mut sd);
        assert_eq!(w.leftover_signals, vec![libc::SIGTERM, libc::SIGKILL]);
        w.now = 7999;
        w.drive(&mut sd);
        assert_eq!(w.exit, None);
        w.now = 8000;
        w.drive(&mut sd);
        assert_eq!(w.exit, Some(3));
    }

    #[test]
    fn a_second_request_kills_every_program_and_skips_the_grace_periods() {
        let mut w = World::new(vec![running("a", 0), running("b", 1)]);
        let mut sd = Shutdown::new(0, &[1, 2]);
        w.drive(&mut sd);
        assert_eq!(w.kills, vec![(101, libc::SIGTERM)]);
        let steps = sd.hurry(w.now);
        assert_eq!(steps, vec![Step::KillAll]);
        w.perform(steps);
        // a (the later batch) gets its TERM and then SIGKILL, b SIGKILL.
        assert_eq!(
            w.kills[1..],
            [(100, libc::SIGTERM), (100, libc::SIGKILL), (101, libc::SIGKILL)]
        );
        w.dies(0);
        w.dies(1);
        w.drive(&mut sd);
        // TERM and KILL to the leftovers in the same pass.
        assert_eq!(w.leftover_signals, vec![libc::SIGTERM, libc::SIGKILL]);
        // During the leftovers' grace period: KILL at once.
        let mut w = World::new(vec![]);
        let mut sd = Shutdown::new(0, &[]);
        w.drive(&mut sd);
        let steps = sd.hurry(w.now);
        assert_eq!(
            steps,
            vec![
                Step::SignalLeftovers {
                    sig: libc::SIGKILL,
                    level: Level::Warn
                },
                Step::KillAll
            ]
        );
    }

    #[test]
    fn a_listener_batch_waits_for_its_pool_to_drain_at_most_two_seconds() {
        // prog (priority 5) stops first; the listener (priority -1) waits
        // while its pool holds events (the program's STOPPING/STOPPED).
        let mut w = World::new(vec![running("listener", 0), running("prog", 1)]);
        let mut sd = Shutdown::new(0, &[-1, 5]);
        let steps = sd.advance(w.now, &w.procs, false, |i| i == 0);
        w.perform(steps);
        assert_eq!(w.kills, [(101, libc::SIGTERM)]);
        w.dies(1);
        w.kills.clear();
        assert!(sd
            .advance(w.now, &w.procs, false, |i| i == 0)
            .iter()
            .all(|s| !matches!(s, Step::Stop(_))));
        assert_eq!(sd.next_deadline(&w.procs), Some(2000 + 2000));
        // Drained: it goes at once.
        w.now += 10;
        let steps = sd.advance(w.now, &w.procs, false, |_| false);
        assert!(steps.contains(&Step::Stop(0)));
        // A listener that never drains is stopped after two seconds.
        let mut w = World::new(vec![running("listener", 0), running("prog", 1)]);
        let mut sd = Shutdown::new(0, &[-1, 5]);
        let steps = sd.advance(w.now, &w.procs, false, |i| i == 0);
        w.perform(steps);
        w.dies(1);
        assert!(!sd
            .advance(w.now, &w.procs, false, |i| i == 0)
            .contains(&Step::Stop(0)));
        w.now += 1999;
        assert!(!sd
            .advance(w.now, &w.procs, false, |i| i == 0)
            .contains(&Step::Stop(0)));
        w.now += 1;
        assert!(sd
            .advance(w.now, &w.procs, false, |i| i == 0)
            .contains(&Step::Stop(0)));
    }

    #[test]
    fn a_batch_already_stopped_lets_the_next_go_at_once() {
        let mut done = Process::new(ProcessConfig::for_test("done", "x"));
        let mut a = vec![];
        done.start(0, &mut a);
        done.spawned(0, 50, &mut a);
        done.exited(10, Exit::Code(0), 0, &mut a);
        let mut w = World::new(vec![running("a", 0), done]);
        let mut sd = Shutdown::new(0, &[1, 9]);
        w.drive(&mut sd);
        assert_eq!(w.kills, vec![(100, libc::SIGTERM)]);
        assert_eq!(w.log, vec!["waiting for a to die"]);
    }

    #[test]
    fn nothing_left_is_0_when_every_exit_was_expected() {
        let mut p = running("a", 0);
        assert_eq!(nothing_left(std::slice::from_ref(&p)), None);
        let mut c = ProcessConfig::for_test("a", "x");
        c.autorestart = crate::config::AutoRestart::False;
        p.cfg = c;
        let mut a = vec![];
        p.exited(5000, Exit::Code(0), 0, &mut a);
        assert_eq!(nothing_left(std::slice::from_ref(&p)), Some(0));
        let mut q = running("b", 1);
        q.cfg.autorestart = crate::config::AutoRestart::False;
        q.exited(5000, Exit::Code(2), 0, &mut a);
        assert_eq!(nothing_left(&[p, q]), Some(1));
    }
}

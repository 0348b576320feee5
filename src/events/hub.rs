//! Everything the loop needs of the event system in one place: the pools,
//! the listeners' protocol states, the global serial and the tick clock.
//! The loop owns the processes and their pipes; it tells the hub what
//! happened (an event, bytes from a listener, a listener's spawn or exit)
//! and performs the writes and log lines that come back.

use super::listener::{Listener, Outcome, ResultHandler};
use super::pool::{LogLine, Pool};
use super::{timeslice, Event, EventKind, Serial};

/// A listener process, by the id [`Hub::add_pool`] gave it.
pub type ListenerId = usize;

#[derive(Debug, Default)]
pub struct Hub {
    pools: Vec<Pool>,
    /// Per listener id: its protocol state, its pool and its index there.
    listeners: Vec<(Listener, usize, usize)>,
    serial: Serial,
    /// The last slice seen for each of `EventKind::TICKS`.
    last_tick: [Option<u64>; 3],
    /// `[supervisord] identifier`, the envelope's `server:` token.
    server: String,
}

impl Hub {
    pub fn new(server: &str) -> Hub {
        Hub {
            server: server.to_string(),
            ..Hub::default()
        }
    }

    /// True when no pool exists: nothing to publish, nothing to arm.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// A pool and its processes (by name, in process order); returns their
    /// listener ids in the same order.
    pub fn add_pool(
        &mut self,
        name: &str,
        events: Vec<String>,
        buffer_size: u32,
        handler: ResultHandler,
        members: &[String],
    ) -> Vec<ListenerId> {
        let pool = self.pools.len();
        self.pools
            .push(Pool::new(name, events, buffer_size, members.to_vec()));
        members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                self.listeners.push((Listener::new(m, handler), pool, i));
                self.listeners.len() - 1
            })
            .collect()
    }

    /// A pool that left the configuration takes no more events; what it
    /// held is dropped (its listeners are being stopped).
    pub fn retire_pool(&mut self, name: &str) {
        for p in self.pools.iter_mut().filter(|p| p.name == name) {
            p.retire();
        }
    }

    /// Something happened: every subscribed pool buffers it.
    pub fn publish(&mut self, event: Event, log: &mut Vec<LogLine>) {
        if !self.pools.is_empty() {
            Pool::publish(&mut self.pools, &mut self.serial, event, log);
        }
    }

    fn wants(&self, kind: EventKind) -> bool {
        self.pools.iter().any(|p| kind.subscribed_by(&p.events))
    }

    /// The wall-clock second at which the next tick is due, or `None` when
    /// no pool subscribes to a tick (then no deadline is armed at all).
    pub fn next_tick(&self, wall_secs: u64) -> Option<u64> {
        EventKind::TICKS
            .iter()
            .filter(|(kind, _)| self.wants(*kind))
            .map(|&(_, period)| timeslice(period, wall_secs).saturating_add(period))
            .min()
    }

    /// A pass of the loop at `wall_secs`: a tick whose slice changed since
    /// the last pass is published, with the new slice as `when`. The first
    /// pass only notes the slices (no tick at start-up).
    pub fn tick(&mut self, wall_secs: u64, log: &mut Vec<LogLine>) {
        for (i, &(kind, period)) in EventKind::TICKS.iter().enumerate() {
            if !self.wants(kind) {
                continue;
            }
            let now = timeslice(period, wall_secs);
            let Some(last) = self.last_tick.get_mut(i) else {
                continue;
            };
            let due = last.is_some_and(|l| l != now);
            *last = Some(now);
            if due {
                self.publish(Event::tick(kind, now), log);
            }
        }
    }

    /// The pool of listener `id` holds events, buffered or being answered.
    pub fn pending(&self, id: ListenerId) -> bool {
        self.listeners
            .get(id)
            .and_then(|&(_, pool, _)| self.pools.get(pool))
            .is_some_and(Pool::pending)
    }

    /// Listener `id` was spawned: its protocol starts over.
    pub fn spawned(&mut self, id: ListenerId) {
        if let Some((l, _, _)) = self.listeners.get_mut(id) {
            l.spawned();
        }
    }

    /// Listener `id` ended: an event it was answering goes back to its pool.
    pub fn ended(&mut self, id: ListenerId, log: &mut Vec<LogLine>) {
        let mut out = Vec::new();
        if let Some((l, _, _)) = self.listeners.get_mut(id) {
            l.ended(&mut out);
        }
        self.apply(id, out, log);
    }

    /// Bytes read from listener `id`'s stdout. Returns what the
    /// `supervisor_stdout` handler prints on rinit's stdout, if anything.
    pub fn output(&mut self, id: ListenerId, data: &[u8], log: &mut Vec<LogLine>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some((l, _, _)) = self.listeners.get_mut(id) {
            l.feed(data, &mut out);
        }
        self.apply(id, out, log)
    }

    fn apply(&mut self, id: ListenerId, out: Vec<Outcome>, log: &mut Vec<LogLine>) -> Vec<u8> {
        let mut stdout = Vec::new();
        let Some(&(_, pool, member)) = self.listeners.get(id) else {
            return stdout;
        };
        for o in out {
            match o {
                Outcome::Log(level, msg) => log.push((level, msg)),
                Outcome::Processed => {
                    if let Some(p) = self.pools.get_mut(pool) {
                        p.done(member);
                    }
                }
                Outcome::Requeue => {
                    if let Some(p) = self.pools.get_mut(pool) {
                        p.requeue(member, log);
                    }
                }
                Outcome::Stdout(bytes) => stdout.extend_from_slice(&bytes),
            }
        }
        stdout
    }

    /// Send what the pools hold to listeners that can take it: `running(id)`
    /// says whether the process is RUNNING, `send(id, bytes)` writes to its
    /// stdin (false: the pipe is gone).
    pub fn dispatch(
        &mut self,
        mut running: impl FnMut(ListenerId) -> bool,
        mut send: impl FnMut(ListenerId, &[u8]) -> bool,
        log: &mut Vec<LogLine>,
    ) {
        for pool in 0..self.pools.len() {
            let ids: Vec<ListenerId> = (0..self.listeners.len())
                .filter(|&id| self.listeners.get(id).is_some_and(|(_, p, _)| *p == pool))
                .collect();
            let ready: Vec<bool> = ids
                .iter()
                .map(|&id| running(id) && self.listeners.get(id).is_some_and(|(l, _, _)| l.is_ready()))
                .collect();
            let Some(p) = self.pools.get_mut(pool) else {
                continue;
            };
            let sent = p.dispatch(
                &self.server,
                |m| ready.get(m).copied().unwrap_or(false),
                |m, bytes| ids.get(m).is_some_and(|&id| send(id, bytes)),
                log,
            );
            for (m, serial) in sent {
                let Some(&id) = ids.get(m) else { continue };
                let mut out = Vec::new();
                if let Some((l, _, _)) = self.listeners.get_mut(id) {
                    l.sent(serial, &mut out);
                }
                self.apply(id, out, log);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StateExtra;
    use crate::machine::State;

    fn hub(events: &[&str], members: usize) -> (Hub, Vec<ListenerId>) {
        let mut h = Hub::new("supervisor");
        let names: Vec<String> = (0..members).map(|i| format!("l{i}")).collect();
        let ids = h.add_pool(
            "pool",
            events.iter().map(|s| s.to_string()).collect(),
            10,
            ResultHandler::Default,
            &names,
        );
        (h, ids)
    }

    #[test]
    fn ticks_are_armed_only_when_subscribed_and_never_at_start() {
        let (mut h, _) = hub(&["PROCESS_STATE"], 1);
        assert_eq!(h.next_tick(1003), None);
        let (mut t, ids) = hub(&["TICK_5"], 1);
        assert_eq!(t.next_tick(1003), Some(1005));
        let mut log = Vec::new();
        t.tick(1003, &mut log);
        h.tick(1003, &mut log);
        let collect = |h: &mut Hub, sent: &mut Vec<Vec<u8>>, log: &mut Vec<LogLine>| {
            h.dispatch(
                |_| true,
                |_, b| {
                    sent.push(b.to_vec());
                    true
                },
                log,
            )
        };
        let mut sent = Vec::new();
        t.output(ids[0], b"READY\n", &mut log);
        collect(&mut t, &mut sent, &mut log);
        assert!(sent.is_empty(), "no tick at start-up");
        t.tick(1004, &mut log);
        t.tick(1005, &mut log);
        collect(&mut t, &mut sent, &mut log);
        assert_eq!(
            sent,
            [b"ver:3.0 server:supervisor serial:0 pool:pool poolserial:0 eventname:TICK_5 len:9\nwhen:1005".to_vec()]
        );
    }

    #[test]
    fn a_rejected_event_is_sent_again_after_the_next_ready() {
        let (mut h, ids) = hub(&["PROCESS_STATE_FATAL"], 1);
        let mut log = Vec::new();
        h.publish(
            Event::process_state("x", "x", State::Backoff, State::Fatal, StateExtra::Nothing),
            &mut log,
        );
        let sends = |h: &mut Hub, running: bool, log: &mut Vec<LogLine>| {
            let mut n = 0;
            h.dispatch(
                |_| running,
                |_, _| {
                    n += 1;
                    true
                },
                log,
            );
            n
        };
        assert_eq!(sends(&mut h, true, &mut log), 0, "not READY yet");
        h.output(ids[0], b"READY\n", &mut log);
        assert_eq!(sends(&mut h, false, &mut log), 0, "not RUNNING yet");
        assert_eq!(sends(&mut h, true, &mut log), 1);
        h.output(ids[0], b"RESULT 4\nFAILREADY\n", &mut log);
        assert_eq!(sends(&mut h, true, &mut log), 1, "sent again after FAIL");
        h.output(ids[0], b"RESULT 2\nOKREADY\n", &mut log);
        assert_eq!(sends(&mut h, true, &mut log), 0, "done after OK");
    }

    #[test]
    fn a_listener_dying_busy_gives_the_event_to_its_successor() {
        let (mut h, ids) = hub(&["EVENT"], 1);
        let mut log = Vec::new();
        h.publish(Event::supervisor_state(true), &mut log);
        h.output(ids[0], b"READY\n", &mut log);
        let mut sent = Vec::new();
        h.dispatch(
            |_| true,
            |_, b| {
                sent.push(b.len());
                true
            },
            &mut log,
        );
        h.ended(ids[0], &mut log);
        h.spawned(ids[0]);
        h.output(ids[0], b"READY\n", &mut log);
        h.dispatch(
            |_| true,
            |_, b| {
                sent.push(b.len());
                true
            },
            &mut log,
        );
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], sent[1]);
    }
}

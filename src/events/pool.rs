//! An `[eventlistener:x]` pool's side of event delivery: its FIFO buffer of
//! `buffer_size` events, its serial numbers, and the choice of the listener
//! that gets the oldest event (docs/events.md, "Delivery").
//!
//! Pure: the caller says which of the pool's processes can take an event
//! (RUNNING and READY) and supplies the write; what comes back is log lines.

use super::{Event, Serial};
use crate::log::Level;
use std::collections::VecDeque;
use std::rc::Rc;

/// An event accepted by a pool, with the serials it was given.
#[derive(Debug, Clone)]
struct Queued {
    event: Rc<Event>,
    serial: u64,
    pool_serial: u64,
}

#[derive(Debug)]
pub struct Pool {
    pub name: String,
    /// `events=`, upper-cased.
    pub events: Vec<String>,
    buffer_size: usize,
    buffer: VecDeque<Queued>,
    serial: Serial,
    /// The pool's process names, by process index (for log lines).
    names: Vec<String>,
    /// The event each listener process is answering, by process index.
    in_flight: Vec<Option<Queued>>,
}

/// A log line for the caller to write.
pub type LogLine = (Level, String);

impl Pool {
    pub fn new(name: &str, events: Vec<String>, buffer_size: u32, names: Vec<String>) -> Pool {
        Pool {
            name: name.to_string(),
            events,
            buffer_size: buffer_size.max(1) as usize,
            buffer: VecDeque::new(),
            serial: Serial::default(),
            in_flight: vec![None; names.len()],
            names,
        }
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Subscribe to nothing more and forget what is buffered.
    pub fn retire(&mut self) {
        self.events.clear();
        self.buffer.clear();
        self.in_flight.iter_mut().for_each(|s| *s = None);
    }

    /// Events wait here or are being answered.
    pub fn pending(&self) -> bool {
        !self.buffer.is_empty() || self.in_flight.iter().any(Option::is_some)
    }

    /// Offer a new event to every pool: each subscribed pool appends it to
    /// its buffer. The global serial is taken only when some pool accepts
    /// it, so unwanted events leave no gap in the numbering.
    pub fn publish(pools: &mut [Pool], global: &mut Serial, event: Event, log: &mut Vec<LogLine>) {
        let event = Rc::new(event);
        let mut serial = None;
        for pool in pools.iter_mut().filter(|p| event.kind.subscribed_by(&p.events)) {
            let serial = *serial.get_or_insert_with(|| global.take());
            let pool_serial = pool.serial.take();
            pool.accept(
                Queued {
                    event: event.clone(),
                    serial,
                    pool_serial,
                },
                false,
                log,
            );
        }
    }

    fn accept(&mut self, q: Queued, head: bool, log: &mut Vec<LogLine>) {
        if self.buffer.len() >= self.buffer_size {
            if let Some(old) = self.buffer.pop_front() {
                log.push((
                    Level::Erro,
                    format!(
                        "pool {} event buffer overflowed, discarding event {}",
                        self.name, old.serial
                    ),
                ));
            }
        }
        if head {
            self.buffer.push_front(q);
        } else {
            self.buffer.push_back(q);
        }
    }

    fn rebuffer(&mut self, q: Queued, log: &mut Vec<LogLine>) {
        log.push((
            Level::Debg,
            format!(
                "rebuffering event {} for pool {} (buf size={}, max={})",
                q.serial,
                self.name,
                self.buffer.len(),
                self.buffer_size
            ),
        ));
        self.accept(q, true, log);
    }

    /// Send buffered events, oldest first, each to the first process that
    /// `can_take` says is RUNNING and READY, until the buffer is empty or
    /// nobody can take one. `send(i, serial, bytes)` writes the envelope
    /// to process `i`; `false` means the pipe is gone (EPIPE), and the
    /// next process is tried. Returns `(process, serial)` for every event
    /// sent, so the caller can tell each listener.
    pub fn dispatch(
        &mut self,
        server: &str,
        mut can_take: impl FnMut(usize) -> bool,
        mut send: impl FnMut(usize, &[u8]) -> bool,
        log: &mut Vec<LogLine>,
    ) -> Vec<(usize, u64)> {
        let mut sent = Vec::new();
        if !(0..self.in_flight.len()).any(&mut can_take) {
            return sent;
        }
        while let Some(q) = self.buffer.pop_front() {
            let mut delivered = false;
            for i in 0..self.in_flight.len() {
                if self.in_flight.get(i).is_some_and(Option::is_some) || !can_take(i) {
                    continue;
                }
                let bytes = q.event.envelope(server, q.serial, &self.name, q.pool_serial);
                if !send(i, &bytes) {
                    log.push((
                        Level::Debg,
                        format!(
                            "epipe occurred while sending event {} to listener {}, listener state unchanged",
                            q.serial,
                            self.names.get(i).map_or("?", String::as_str)
                        ),
                    ));
                    continue;
                }
                sent.push((i, q.serial));
                if let Some(slot) = self.in_flight.get_mut(i) {
                    *slot = Some(q.clone());
                }
                delivered = true;
                break;
            }
            if !delivered {
                self.rebuffer(q, log);
                break;
            }
        }
        sent
    }

    /// Listener `i` handled its event.
    pub fn done(&mut self, i: usize) {
        if let Some(slot) = self.in_flight.get_mut(i) {
            *slot = None;
        }
    }

    /// Listener `i` rejected its event, answered garbage or died: the event
    /// goes back to the head of this pool's buffer (only this pool's:
    /// supervisord also re-queues it in unrelated pools whose processes
    /// share the rejecting one's priority, a defect rinit does not copy).
    pub fn requeue(&mut self, i: usize, log: &mut Vec<LogLine>) {
        if let Some(q) = self.in_flight.get_mut(i).and_then(Option::take) {
            self.rebuffer(q, log);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, StateExtra};
    use crate::machine::State;

    fn pool(name: &str, events: &[&str], size: u32, procs: usize) -> Pool {
        let names = (0..procs).map(|i| format!("{name}_{i}")).collect();
        Pool::new(name, events.iter().map(|s| s.to_string()).collect(), size, names)
    }

    fn fatal(p: &str) -> Event {
        Event::process_state(p, p, State::Backoff, State::Fatal, StateExtra::Nothing)
    }

    #[test]
    fn serials_are_global_and_per_pool_and_skip_unwanted_events() {
        let mut pools = vec![pool("a", &["PROCESS_STATE"], 10, 1), pool("b", &["TICK"], 10, 1)];
        let mut global = Serial::default();
        let mut log = Vec::new();
        Pool::publish(
            &mut pools,
            &mut global,
            Event::tick(EventKind::Tick5, 5),
            &mut log,
        );
        Pool::publish(&mut pools, &mut global, Event::supervisor_state(true), &mut log);
        Pool::publish(&mut pools, &mut global, fatal("x"), &mut log);
        let mut got = Vec::new();
        for p in &mut pools {
            p.dispatch(
                "supervisor",
                |_| true,
                |_, b| {
                    got.push(
                        String::from_utf8_lossy(b)
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    );
                    true
                },
                &mut log,
            );
        }
        assert_eq!(
            got,
            [
                "ver:3.0 server:supervisor serial:1 pool:a poolserial:0 eventname:PROCESS_STATE_FATAL len:44",
                "ver:3.0 server:supervisor serial:0 pool:b poolserial:0 eventname:TICK_5 len:6",
            ]
        );
    }

    #[test]
    fn overflow_discards_the_oldest_with_supervisords_error() {
        let mut pools = vec![pool("stuck", &["EVENT"], 2, 1)];
        let mut global = Serial::default();
        let mut log = Vec::new();
        for _ in 0..3 {
            Pool::publish(&mut pools, &mut global, fatal("x"), &mut log);
        }
        assert_eq!(
            log,
            [(
                Level::Erro,
                "pool stuck event buffer overflowed, discarding event 0".to_string()
            )]
        );
        assert_eq!(pools[0].buffered(), 2);
    }

    #[test]
    fn one_event_per_ready_listener_and_requeue_at_the_head() {
        let mut pools = vec![pool("p", &["EVENT"], 10, 2)];
        let mut global = Serial::default();
        let mut log = Vec::new();
        for _ in 0..3 {
            Pool::publish(&mut pools, &mut global, fatal("x"), &mut log);
        }
        let p = &mut pools[0];
        let sent = p.dispatch("supervisor", |_| true, |_, _| true, &mut log);
        assert_eq!(sent, [(0, 0), (1, 1)]);
        assert_eq!(
            log.last().map(|l| l.1.as_str()),
            Some("rebuffering event 2 for pool p (buf size=0, max=10)")
        );
        log.clear();
        p.requeue(0, &mut log);
        assert_eq!(
            log,
            [(
                Level::Debg,
                "rebuffering event 0 for pool p (buf size=1, max=10)".to_string()
            )]
        );
        p.done(1);
        let sent = p.dispatch("supervisor", |i| i == 1, |_, _| true, &mut log);
        assert_eq!(sent, [(1, 0)], "the rejected event goes out again first");
    }

    #[test]
    fn nothing_is_sent_while_no_listener_can_take_one() {
        let mut pools = vec![pool("p", &["EVENT"], 10, 1)];
        let mut global = Serial::default();
        let mut log = Vec::new();
        Pool::publish(&mut pools, &mut global, fatal("x"), &mut log);
        let sent = pools[0].dispatch("supervisor", |_| false, |_, _| true, &mut log);
        assert!(sent.is_empty() && log.is_empty());
        assert_eq!(pools[0].buffered(), 1);
    }

    #[test]
    fn a_broken_pipe_tries_the_next_listener() {
        let mut pools = vec![pool("p", &["EVENT"], 10, 2)];
        let mut global = Serial::default();
        let mut log = Vec::new();
        Pool::publish(&mut pools, &mut global, fatal("x"), &mut log);
        let sent = pools[0].dispatch("supervisor", |_| true, |i, _| i == 1, &mut log);
        assert_eq!(sent, [(1, 0)]);
        assert_eq!(
            log[0].1,
            "epipe occurred while sending event 0 to listener p_0, listener state unchanged"
        );
    }
}

//! The event system in the loop (docs/events.md): the hub that decides
//! (`crate::events`), and the thin layer that moves bytes between it and the
//! listener processes' pipes. Everything is non-blocking: a listener's stdin
//! holds at most one envelope rinit could not write yet, its stdout is read
//! once per pass in bounded chunks, and a listener that stops reading only
//! stops getting events.

use crate::config::{GroupConfig, GroupKind, ProcessConfig};
use crate::events::capture::{Capture, Piece};
use crate::events::hub::{Hub, ListenerId};
use crate::events::listener::ResultHandler;
use crate::events::{Event, StateExtra};
use crate::log::{Level, Logger};
use crate::machine::{Change, Millis, Process, State};
use crate::output::capture::Channel;
use crate::pollset::{PollSet, Slot};
use crate::spawn::ListenerPipes;
use nix::errno::Errno;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

/// One read of a listener's stdout per pass.
const READ_SIZE: usize = 16 * 1024;

/// Output chunks the output layer saw, waiting to become PROCESS_LOG and
/// PROCESS_COMMUNICATION events: (process index, channel, bytes).
type Chunks = Rc<RefCell<Vec<(usize, Channel, Vec<u8>)>>>;

#[derive(Default)]
pub struct Listeners {
    hub: Hub,
    /// Per process index: its listener id, for the processes of a pool.
    id_of: Vec<Option<ListenerId>>,
    /// Per listener id: its process index.
    proc_of: Vec<usize>,
    /// Per listener id: its pipes while it runs, and bytes for its stdin
    /// that the pipe did not take yet.
    io: Vec<Option<(ListenerPipes, Vec<u8>)>>,
    slots: Vec<(ListenerId, Slot, bool)>,
    chunks: Chunks,
    /// Capture-mode parsers, per (process, channel), for processes with
    /// `*_capture_maxbytes`.
    captures: HashMap<(usize, u8), Capture>,
    scratch: Vec<u8>,
}

fn channel_key(ch: Channel) -> u8 {
    match ch {
        Channel::Stdout => 0,
        Channel::Stderr => 1,
    }
}

/// Seconds since the epoch, for the tick events (wall-clock aligned).
fn wall_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Listeners {
    /// The pools of `groups` (process indexes counted in group order, as the
    /// supervisor numbers them), and the PROCESS_GROUP_ADDED of each group:
    /// a pool hears of the groups created after it, as in supervisord.
    pub fn new(groups: &[GroupConfig], identifier: &str, logger: &mut Logger) -> Listeners {
        let mut l = Listeners {
            hub: Hub::new(identifier),
            ..Listeners::default()
        };
        let mut first = 0;
        for g in groups {
            l.add_group(g, first, logger);
            first += g.processes.len();
        }
        l
    }

    /// A group whose processes have the indexes from `first` on: a pool
    /// for a listener group, and its PROCESS_GROUP_ADDED (at start-up and
    /// on reload).
    pub fn add_group(&mut self, g: &GroupConfig, first: usize, logger: &mut Logger) {
        let mut log = Vec::new();
        if self.id_of.len() < first + g.processes.len() {
            self.id_of.resize(first + g.processes.len(), None);
        }
        if let (GroupKind::EventListener, Some(cfg)) = (g.kind, &g.listener) {
            let handler = ResultHandler::from_spec(&cfg.result_handler).unwrap_or_else(|| {
                log.push((
                    Level::Warn,
                    format!(
                        "[eventlistener:{}] result_handler {} cannot run in rinit (a Python entry point); \
                         the default handler is used",
                        g.name, cfg.result_handler
                    ),
                ));
                ResultHandler::Default
            });
            let names: Vec<String> = g.processes.iter().map(|p| p.name.clone()).collect();
            let ids = self
                .hub
                .add_pool(&g.name, cfg.events.clone(), cfg.buffer_size, handler, &names);
            for (k, id) in ids.into_iter().enumerate() {
                if let Some(slot) = self.id_of.get_mut(first + k) {
                    *slot = Some(id);
                }
                self.proc_of.push(first + k);
                self.io.push(None);
            }
        }
        // Without a pool nobody hears it: its payload is not even built.
        if !self.hub.is_empty() {
            self.hub.publish(Event::process_group(true, &g.name), &mut log);
        }
        emit(logger, log);
    }

    /// A group left the configuration (reload): a pool of that name takes
    /// no more events, and PROCESS_GROUP_REMOVED goes out.
    pub fn remove_group(&mut self, name: &str, logger: &mut Logger) {
        self.hub.retire_pool(name);
        self.publish(Event::process_group(false, name), logger);
    }

    /// Whether output chunks must be handed over (some process sends
    /// PROCESS_LOG or uses capture mode, and some pool exists).
    pub fn wants_output(&self, procs: &[Process]) -> bool {
        !self.hub.is_empty()
            && procs.iter().map(|p| &p.cfg).any(|p| {
                p.stdout_events_enabled
                    || p.stderr_events_enabled
                    || p.stdout_capture_maxbytes > 0
                    || p.stderr_capture_maxbytes > 0
            })
    }

    /// The queue the output layer's tap fills.
    pub fn chunk_queue(&self) -> Chunks {
        self.chunks.clone()
    }

    /// Process `i` is a RUNNING listener whose pool still holds events:
    /// the shutdown lets it deliver them before stopping it.
    pub fn draining(&self, i: usize, procs: &[Process]) -> bool {
        let Some(id) = self.id_of.get(i).copied().flatten() else {
            return false;
        };
        procs.get(i).is_some_and(|p| p.state() == State::Running) && self.hub.pending(id)
    }

    pub fn is_listener(&self, i: usize) -> bool {
        self.id_of.get(i).copied().flatten().is_some()
    }

    pub fn publish(&mut self, event: Event, logger: &mut Logger) {
        let mut log = Vec::new();
        self.hub.publish(event, &mut log);
        emit(logger, log);
    }

    /// A process changed state: PROCESS_STATE_*, with the facts of that
    /// moment.
    pub fn transition(&mut self, p: &ProcessConfig, c: Change, logger: &mut Logger) {
        if self.hub.is_empty() {
            return;
        }
        let extra = match c.to {
            State::Starting | State::Backoff => StateExtra::Tries(c.tries),
            State::Running | State::Stopping | State::Stopped => StateExtra::Pid(c.pid),
            State::Exited => StateExtra::Exited {
                expected: c.expected,
                pid: c.pid,
            },
            State::Fatal => StateExtra::Nothing,
        };
        self.publish(
            Event::process_state(&p.name, &p.group, c.from, c.to, extra),
            logger,
        );
    }

    /// Listener process `i` was spawned with these pipes.
    pub fn spawned(&mut self, i: usize, pipes: ListenerPipes) {
        let Some(id) = self.id_of.get(i).copied().flatten() else {
            return;
        };
        self.hub.spawned(id);
        if let Some(slot) = self.io.get_mut(id) {
            *slot = Some((pipes, Vec::new()));
        }
    }

    /// Process `i` ended: a listener's unanswered event goes back to its
    /// pool, and its pipes are closed.
    pub fn ended(&mut self, i: usize, logger: &mut Logger) {
        let Some(id) = self.id_of.get(i).copied().flatten() else {
            return;
        };
        if let Some(slot) = self.io.get_mut(id) {
            *slot = None;
        }
        let mut log = Vec::new();
        self.hub.ended(id, &mut log);
        emit(logger, log);
    }

    /// When the next tick is due, in the loop's monotonic milliseconds.
    pub fn next_deadline(&self, now: Millis) -> Option<Millis> {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let due_ms = self.hub.next_tick(wall_ms / 1000)?.saturating_mul(1000);
        Some(now.saturating_add(due_ms.saturating_sub(wall_ms)))
    }

    /// The listeners' pipes worth watching this pass.
    pub fn register(&mut self, set: &mut PollSet) {
        self.slots.clear();
        for (id, io) in self.io.iter().enumerate() {
            let Some((pipes, pending)) = io else { continue };
            self.slots
                .push((id, set.add(pipes.stdout.as_raw_fd(), libc::POLLIN), false));
            if !pending.is_empty() {
                self.slots
                    .push((id, set.add(pipes.stdin.as_raw_fd(), libc::POLLOUT), true));
            }
        }
    }

    /// After `wait`: read the listeners that spoke, finish pending writes,
    /// turn captured output into events, publish due ticks, and send what
    /// the pools hold to the listeners that are RUNNING and READY.
    pub fn dispatch(&mut self, set: &PollSet, procs: &[Process], logger: &mut Logger) {
        if self.hub.is_empty() {
            self.chunks.borrow_mut().clear();
            return;
        }
        let mut log = Vec::new();
        let ready: Vec<(ListenerId, bool)> = self
            .slots
            .iter()
            .filter(|(_, s, w)| if *w { set.writable(*s) } else { set.readable(*s) })
            .map(|(id, _, w)| (*id, *w))
            .collect();
        for (id, write) in ready {
            if write {
                self.flush(id);
            } else {
                self.read(id, &mut log, logger);
            }
        }
        self.output_events(procs, &mut log);
        self.hub.tick(wall_secs(), &mut log);
        let proc_of = &self.proc_of;
        let io = &mut self.io;
        self.hub.dispatch(
            |id| {
                proc_of
                    .get(id)
                    .and_then(|&i| procs.get(i))
                    .is_some_and(|p| p.state() == State::Running)
            },
            |id, bytes| send(io, id, bytes),
            &mut log,
        );
        emit(logger, log);
    }

    fn read(&mut self, id: ListenerId, log: &mut Vec<(Level, String)>, logger: &mut Logger) {
        let Some(Some((pipes, _))) = self.io.get(id) else {
            return;
        };
        if self.scratch.len() < READ_SIZE {
            self.scratch.resize(READ_SIZE, 0);
        }
        let fd = pipes.stdout.as_raw_fd();
        let n = loop {
            match nix::unistd::read(fd, &mut self.scratch) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => break 0,
            }
        };
        if n == 0 {
            // EOF: the listener closed its stdout; its exit will follow.
            if let Some(Some((pipes, pending))) = self.io.get_mut(id).map(Option::take) {
                drop(pipes);
                drop(pending);
            }
            return;
        }
        let data = self.scratch.get(..n).unwrap_or(&[]).to_vec();
        let printed = self.hub.output(id, &data, log);
        if !printed.is_empty() {
            logger.stream(1).push_if_room(&printed);
        }
    }

    /// Write what a listener's stdin did not take before.
    fn flush(&mut self, id: ListenerId) {
        let Some(Some((pipes, pending))) = self.io.get_mut(id) else {
            return;
        };
        match write_some(&pipes.stdin, pending) {
            Some(n) => {
                pending.drain(..n.min(pending.len()));
            }
            None => pending.clear(),
        }
    }

    /// Captured output becomes PROCESS_LOG events (with `*_events_enabled`)
    /// and capture blocks PROCESS_COMMUNICATION events.
    fn output_events(&mut self, procs: &[Process], log: &mut Vec<(Level, String)>) {
        let chunks = std::mem::take(&mut *self.chunks.borrow_mut());
        for (i, ch, data) in chunks {
            let Some(proc) = procs.get(i) else { continue };
            let p = &proc.cfg;
            let stderr = ch == Channel::Stderr;
            let (events, capture) = if stderr {
                (p.stderr_events_enabled, p.stderr_capture_maxbytes)
            } else {
                (p.stdout_events_enabled, p.stdout_capture_maxbytes)
            };
            let pieces = if capture > 0 {
                let mut pieces = Vec::new();
                self.captures
                    .entry((i, channel_key(ch)))
                    .or_insert_with(|| Capture::new(capture))
                    .feed(&data, &mut pieces);
                pieces
            } else {
                vec![Piece::Output {
                    data,
                    captured: false,
                }]
            };
            let pid = proc.pid.unwrap_or(0);
            for piece in pieces {
                match piece {
                    Piece::Output { data, .. } if events => self
                        .hub
                        .publish(Event::process_log(&p.name, &p.group, pid, stderr, &data), log),
                    Piece::Output { .. } => {}
                    Piece::Communication(data) => {
                        self.hub.publish(
                            Event::process_communication(&p.name, &p.group, pid, stderr, &data),
                            log,
                        );
                        let channel = if stderr { "stderr" } else { "stdout" };
                        log.push((
                            Level::Debg,
                            format!("{} {channel} emitted a comm event", crate::pyrepr::repr(&p.name)),
                        ));
                    }
                }
            }
        }
    }
}

/// The hub's write to listener `id`: what the pipe does not take now waits
/// for POLLOUT. `false` when the pipe is gone (EPIPE and the like).
fn send(io: &mut [Option<(ListenerPipes, Vec<u8>)>], id: ListenerId, bytes: &[u8]) -> bool {
    let Some(Some((pipes, pending))) = io.get_mut(id) else {
        return false;
    };
    if !pending.is_empty() {
        pending.extend_from_slice(bytes);
        return true;
    }
    match write_some(&pipes.stdin, bytes) {
        Some(n) => {
            pending.extend_from_slice(bytes.get(n..).unwrap_or(&[]));
            true
        }
        None => false,
    }
}

/// One non-blocking write: the bytes taken (0 when the pipe is full), or
/// `None` when the pipe is broken.
fn write_some(fd: &OwnedFd, bytes: &[u8]) -> Option<usize> {
    loop {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => return Some(n),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Some(0),
            Err(_) => return None,
        }
    }
}

fn emit(logger: &mut Logger, log: Vec<(Level, String)>) {
    for (level, msg) in log {
        logger.log(level, &msg);
    }
}

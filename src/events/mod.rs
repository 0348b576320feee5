//! supervisord's event system, as pure logic: the event types and their
//! hierarchy, the payload texts, the envelope a listener reads, the
//! per-listener protocol ([`listener`]) and the pool's buffer and dispatch
//! ([`pool`]). Nothing here reads a clock, a descriptor or a process: the
//! loop feeds bytes and facts in and performs what comes back
//! (docs/events.md).

pub mod capture;
pub mod hub;
pub mod listener;
pub mod pool;

use crate::machine::State;

/// Every concrete event type supervisord emits. Abstract types (`EVENT`,
/// `PROCESS_STATE`, `TICK`, …) are never sent; they only appear in a
/// listener's `events=` to subscribe to all their concrete subtypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ProcessState(State),
    /// A process entered UNKNOWN (not reachable in rinit, kept for names).
    ProcessStateUnknown,
    ProcessLogStdout,
    ProcessLogStderr,
    ProcessCommunicationStdout,
    ProcessCommunicationStderr,
    RemoteCommunication,
    SupervisorRunning,
    SupervisorStopping,
    Tick5,
    Tick60,
    Tick3600,
    ProcessGroupAdded,
    ProcessGroupRemoved,
}

impl EventKind {
    /// The name in the envelope's `eventname:` token.
    pub fn name(self) -> &'static str {
        use EventKind::*;
        match self {
            ProcessState(s) => match s {
                State::Stopped => "PROCESS_STATE_STOPPED",
                State::Starting => "PROCESS_STATE_STARTING",
                State::Running => "PROCESS_STATE_RUNNING",
                State::Backoff => "PROCESS_STATE_BACKOFF",
                State::Stopping => "PROCESS_STATE_STOPPING",
                State::Exited => "PROCESS_STATE_EXITED",
                State::Fatal => "PROCESS_STATE_FATAL",
            },
            ProcessStateUnknown => "PROCESS_STATE_UNKNOWN",
            ProcessLogStdout => "PROCESS_LOG_STDOUT",
            ProcessLogStderr => "PROCESS_LOG_STDERR",
            ProcessCommunicationStdout => "PROCESS_COMMUNICATION_STDOUT",
            ProcessCommunicationStderr => "PROCESS_COMMUNICATION_STDERR",
            RemoteCommunication => "REMOTE_COMMUNICATION",
            SupervisorRunning => "SUPERVISOR_STATE_CHANGE_RUNNING",
            SupervisorStopping => "SUPERVISOR_STATE_CHANGE_STOPPING",
            Tick5 => "TICK_5",
            Tick60 => "TICK_60",
            Tick3600 => "TICK_3600",
            ProcessGroupAdded => "PROCESS_GROUP_ADDED",
            ProcessGroupRemoved => "PROCESS_GROUP_REMOVED",
        }
    }

    /// The abstract type this one belongs to (below `EVENT`); `None` for
    /// the two types whose only parent is `EVENT` itself.
    fn family(self) -> Option<&'static str> {
        use EventKind::*;
        match self {
            ProcessState(_) | ProcessStateUnknown => Some("PROCESS_STATE"),
            ProcessLogStdout | ProcessLogStderr => Some("PROCESS_LOG"),
            ProcessCommunicationStdout | ProcessCommunicationStderr => Some("PROCESS_COMMUNICATION"),
            SupervisorRunning | SupervisorStopping => Some("SUPERVISOR_STATE_CHANGE"),
            Tick5 | Tick60 | Tick3600 => Some("TICK"),
            ProcessGroupAdded | ProcessGroupRemoved => Some("PROCESS_GROUP"),
            RemoteCommunication => None,
        }
    }

    /// Whether a pool with `events=` (already upper-cased, as the config
    /// loader stores them) receives this type: its own name, its family or
    /// `EVENT` subscribes to it.
    pub fn subscribed_by(self, events: &[String]) -> bool {
        let own = self.name();
        let family = self.family();
        events
            .iter()
            .any(|e| e == "EVENT" || e == own || Some(e.as_str()) == family)
    }

    /// The tick types and their periods in seconds.
    pub const TICKS: [(EventKind, u64); 3] = [
        (EventKind::Tick5, 5),
        (EventKind::Tick60, 60),
        (EventKind::Tick3600, 3600),
    ];
}

/// One event, its payload rendered when it happened (values such as a pid
/// are frozen then, as supervisord freezes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub payload: String,
}

/// supervisord's state names, as payloads and `supervisorctl` print them.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Stopped => "STOPPED",
        State::Starting => "STARTING",
        State::Running => "RUNNING",
        State::Backoff => "BACKOFF",
        State::Stopping => "STOPPING",
        State::Exited => "EXITED",
        State::Fatal => "FATAL",
    }
}

/// What a process-state payload carries after `from_state`, by target
/// state: STARTING and BACKOFF the retry count, RUNNING, STOPPING and
/// STOPPED the pid, EXITED whether it was expected and the pid, FATAL
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateExtra {
    Tries(u32),
    Pid(i32),
    Exited { expected: bool, pid: i32 },
    Nothing,
}

impl Event {
    /// `PROCESS_STATE_{to}`: `processname:p groupname:g from_state:S …`.
    pub fn process_state(process: &str, group: &str, from: State, to: State, extra: StateExtra) -> Event {
        let mut payload = format!(
            "processname:{process} groupname:{group} from_state:{}",
            state_name(from)
        );
        match extra {
            StateExtra::Tries(n) => payload.push_str(&format!(" tries:{n}")),
            StateExtra::Pid(pid) => payload.push_str(&format!(" pid:{pid}")),
            StateExtra::Exited { expected, pid } => {
                payload.push_str(&format!(" expected:{} pid:{pid}", u8::from(expected)))
            }
            StateExtra::Nothing => {}
        }
        Event {
            kind: EventKind::ProcessState(to),
            payload,
        }
    }

    /// `PROCESS_LOG_STDOUT/STDERR`: a header line naming the channel, then
    /// the chunk as read.
    pub fn process_log(process: &str, group: &str, pid: i32, stderr: bool, data: &[u8]) -> Event {
        let (kind, channel) = if stderr {
            (EventKind::ProcessLogStderr, "stderr")
        } else {
            (EventKind::ProcessLogStdout, "stdout")
        };
        let payload = format!(
            "processname:{process} groupname:{group} pid:{pid} channel:{channel}\n{}",
            decoded(data)
        );
        Event { kind, payload }
    }

    /// `PROCESS_COMMUNICATION_STDOUT/STDERR`: the data of one capture block.
    pub fn process_communication(process: &str, group: &str, pid: i32, stderr: bool, data: &[u8]) -> Event {
        let kind = if stderr {
            EventKind::ProcessCommunicationStderr
        } else {
            EventKind::ProcessCommunicationStdout
        };
        let payload = format!(
            "processname:{process} groupname:{group} pid:{pid}\n{}",
            decoded(data)
        );
        Event { kind, payload }
    }

    /// `REMOTE_COMMUNICATION` from the control interface.
    pub fn remote_communication(kind: &str, data: &str) -> Event {
        Event {
            kind: EventKind::RemoteCommunication,
            payload: format!("type:{kind}\n{data}"),
        }
    }

    /// `SUPERVISOR_STATE_CHANGE_RUNNING` / `_STOPPING`: empty payloads.
    pub fn supervisor_state(running: bool) -> Event {
        let kind = if running {
            EventKind::SupervisorRunning
        } else {
            EventKind::SupervisorStopping
        };
        Event {
            kind,
            payload: String::new(),
        }
    }

    /// `TICK_N`: `when:` is the multiple of N seconds just crossed.
    pub fn tick(kind: EventKind, when: u64) -> Event {
        Event {
            kind,
            payload: format!("when:{when}"),
        }
    }

    /// `PROCESS_GROUP_ADDED` / `_REMOVED`.
    pub fn process_group(added: bool, group: &str) -> Event {
        let kind = if added {
            EventKind::ProcessGroupAdded
        } else {
            EventKind::ProcessGroupRemoved
        };
        Event {
            kind,
            payload: format!("groupname:{group}\n"),
        }
    }

    /// The bytes written to a listener's stdin: the header line, then the
    /// payload. `len:` counts characters, not bytes, as supervisord counts
    /// them: Python listeners read their stdin as text and rely on it.
    pub fn envelope(&self, server: &str, serial: u64, pool: &str, pool_serial: u64) -> Vec<u8> {
        let len = self.payload.chars().count();
        let mut out = format!(
            "ver:3.0 server:{server} serial:{serial} pool:{pool} poolserial:{pool_serial} eventname:{} len:{len}\n",
            self.kind.name()
        )
        .into_bytes();
        out.extend_from_slice(self.payload.as_bytes());
        out
    }
}

/// A chunk of output as text: itself when it is UTF-8, otherwise
/// `Undecodable: b'…'` as supervisord renders it.
fn decoded(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => format!("Undecodable: {}", crate::pyrepr::bytes_repr(data)),
    }
}

/// The start of the `period`-second slice that `epoch_secs` falls in:
/// supervisord sends `TICK_N` when this value changes between two passes,
/// never at start-up itself.
pub fn timeslice(period: u64, epoch_secs: u64) -> u64 {
    match period {
        0 => epoch_secs,
        p => epoch_secs - epoch_secs % p,
    }
}

/// Global and per-pool serial numbers: supervisord counts from 0 and wraps
/// at Python's `sys.maxsize` back to 0.
#[derive(Debug, Default, Clone)]
pub struct Serial {
    last: Option<u64>,
}

impl Serial {
    pub fn take(&mut self) -> u64 {
        let n = match self.last {
            Some(n) if n < i64::MAX as u64 => n + 1,
            _ => 0,
        };
        self.last = Some(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_follows_the_type_hierarchy() {
        let ev = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let fatal = EventKind::ProcessState(State::Fatal);
        assert!(fatal.subscribed_by(&ev(&["PROCESS_STATE_FATAL"])));
        assert!(fatal.subscribed_by(&ev(&["PROCESS_STATE"])));
        assert!(fatal.subscribed_by(&ev(&["EVENT"])));
        assert!(!fatal.subscribed_by(&ev(&["PROCESS_STATE_EXITED", "TICK"])));
        assert!(EventKind::Tick60.subscribed_by(&ev(&["TICK"])));
        assert!(!EventKind::Tick60.subscribed_by(&ev(&["TICK_5"])));
        assert!(EventKind::RemoteCommunication.subscribed_by(&ev(&["REMOTE_COMMUNICATION"])));
        assert!(!EventKind::RemoteCommunication.subscribed_by(&ev(&["PROCESS_COMMUNICATION"])));
    }

    #[test]
    fn payloads_are_supervisords_byte_for_byte() {
        let e = Event::process_state(
            "bad",
            "bad",
            State::Stopped,
            State::Starting,
            StateExtra::Tries(0),
        );
        assert_eq!(
            e.payload,
            "processname:bad groupname:bad from_state:STOPPED tries:0"
        );
        let e = Event::process_state(
            "talker",
            "talker",
            State::Running,
            State::Exited,
            StateExtra::Exited {
                expected: false,
                pid: 4,
            },
        );
        assert_eq!(
            e.payload,
            "processname:talker groupname:talker from_state:RUNNING expected:0 pid:4"
        );
        assert_eq!(e.kind.name(), "PROCESS_STATE_EXITED");
        let e = Event::process_state(
            "failer",
            "failer",
            State::Backoff,
            State::Fatal,
            StateExtra::Nothing,
        );
        assert_eq!(
            e.payload,
            "processname:failer groupname:failer from_state:BACKOFF"
        );
        let e = Event::process_log("talker", "talker", 4, false, b"hello-stdout\n");
        assert_eq!(
            e.payload,
            "processname:talker groupname:talker pid:4 channel:stdout\nhello-stdout\n"
        );
        let e = Event::process_communication("talker", "talker", 4, false, b"captured-data");
        assert_eq!(
            e.payload,
            "processname:talker groupname:talker pid:4\ncaptured-data"
        );
        assert_eq!(Event::process_group(true, "talker").payload, "groupname:talker\n");
        assert_eq!(
            Event::tick(EventKind::Tick5, 1795326040).payload,
            "when:1795326040"
        );
        assert_eq!(Event::remote_communication("t", "d").payload, "type:t\nd");
    }

    #[test]
    fn undecodable_output_is_rendered_as_python_bytes() {
        let e = Event::process_log("p", "p", 1, true, b"a\xffb\n");
        assert_eq!(
            e.payload,
            "processname:p groupname:p pid:1 channel:stderr\nUndecodable: b'a\\xffb\\n'"
        );
    }

    #[test]
    fn envelope_matches_the_captured_exchange() {
        let e = Event::process_group(true, "mylistener");
        let bytes = e.envelope("supervisor", 0, "mylistener", 0);
        assert_eq!(
            bytes,
            b"ver:3.0 server:supervisor serial:0 pool:mylistener poolserial:0 eventname:PROCESS_GROUP_ADDED len:21\ngroupname:mylistener\n"
        );
        let e = Event::supervisor_state(true);
        assert_eq!(
            e.envelope("supervisor", 2, "p", 2),
            b"ver:3.0 server:supervisor serial:2 pool:p poolserial:2 eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0\n"
        );
    }

    #[test]
    fn len_counts_characters_not_bytes() {
        let e = Event::process_log("p", "g", 1, false, "héllo\n".as_bytes());
        let env = e.envelope("supervisor", 0, "x", 0);
        let text = String::from_utf8(env).unwrap();
        let header = text.lines().next().unwrap();
        assert!(header.ends_with(&format!("len:{}", e.payload.chars().count())));
        assert_eq!(e.payload.len(), e.payload.chars().count() + 1);
    }

    #[test]
    fn ticks_align_to_multiples_of_their_period() {
        assert_eq!(timeslice(5, 1795326043), 1795326040);
        assert_eq!(timeslice(60, 1795326043), 1795326000);
        assert_eq!(timeslice(3600, 3599), 0);
        assert_eq!(timeslice(0, 7), 7);
    }

    #[test]
    fn serials_count_from_zero_and_wrap_at_maxsize() {
        let mut s = Serial::default();
        assert_eq!((s.take(), s.take()), (0, 1));
        let mut s = Serial {
            last: Some(i64::MAX as u64),
        };
        assert_eq!(s.take(), 0);
    }
}

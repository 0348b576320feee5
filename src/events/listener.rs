//! One listener process's side of the event protocol, as supervisord reads
//! it: the listener's stdout is the control channel, the bytes are buffered
//! until they decide a transition, and every transition is logged with
//! supervisord's text (docs/events.md, "The protocol").
//!
//! Pure: the loop feeds the bytes it read and tells when an event was sent
//! or the process ended; what comes back is log lines and what became of
//! the event in flight.

use crate::log::Level;
use crate::pyrepr::bytes_repr;

const READY_TOKEN: &[u8] = b"READY\n";
/// supervisord skips this many bytes of a result line (`RESULT `) without
/// checking them.
const RESULT_PREFIX_LEN: usize = 7;
/// A result line longer than this without its `\n` is garbage: supervisord
/// would buffer without end, rinit calls it a bad result line.
const MAX_RESULT_LINE: usize = 4096;
/// Result bodies are kept up to this size (the handlers only need `OK` or
/// the echo of one output chunk); the rest is counted and dropped.
const MAX_RESULT_KEPT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    Acknowledged,
    Ready,
    Busy,
    Unknown,
}

impl ListenerState {
    pub fn name(self) -> &'static str {
        match self {
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

/// How the pool's `result_handler` judges a result body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultHandler {
    /// supervisord's `default_handler`: `OK` accepts, anything else rejects.
    Default,
    /// `supervisor_stdout:event_handler`: the body is a PROCESS_LOG payload
    /// echoed back; it is printed as `name channel | data` on stdout.
    SupervisorStdout,
}

impl ResultHandler {
    /// The handler for a `result_handler=` value; `None` for one rinit
    /// cannot run (a Python entry point), which gets the default with a
    /// warning from the caller.
    pub fn from_spec(spec: &str) -> Option<ResultHandler> {
        match spec.trim() {
            "" | "supervisor.dispatchers:default_handler" => Some(ResultHandler::Default),
            "supervisor_stdout:event_handler" => Some(ResultHandler::SupervisorStdout),
            _ => None,
        }
    }
}

/// What the caller must do after feeding bytes or reporting a fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Log(Level, String),
    /// The event in flight was handled: it is done.
    Processed,
    /// The event in flight goes back to the head of its pool's buffer.
    Requeue,
    /// Bytes for rinit's stdout (the `supervisor_stdout` handler).
    Stdout(Vec<u8>),
}

/// The protocol state of one listener process.
#[derive(Debug, Clone)]
pub struct Listener {
    name: String,
    state: ListenerState,
    /// Bytes read but not yet consumed by a transition.
    pending: Vec<u8>,
    /// The announced length of the result body, once its line was read.
    result_len: Option<usize>,
    result: Vec<u8>,
    /// Body bytes consumed so far (may exceed what `result` keeps).
    result_got: usize,
    /// An event was sent and not yet answered.
    in_flight: bool,
    handler: ResultHandler,
}

impl Listener {
    pub fn new(name: &str, handler: ResultHandler) -> Listener {
        Listener {
            name: name.to_string(),
            state: ListenerState::Acknowledged,
            pending: Vec::new(),
            result_len: None,
            result: Vec::new(),
            result_got: 0,
            in_flight: false,
            handler,
        }
    }

    pub fn state(&self) -> ListenerState {
        self.state
    }

    /// True when an event can be sent to this listener (the caller also
    /// checks that the process is RUNNING).
    pub fn is_ready(&self) -> bool {
        self.state == ListenerState::Ready
    }

    /// A new process was spawned: the protocol starts over, silently (the
    /// state is reset, not changed, as supervisord resets it).
    pub fn spawned(&mut self) {
        let handler = self.handler;
        *self = Listener::new(&self.name, handler);
    }

    /// An event was written to the listener's stdin. supervisord sets BUSY
    /// without a log line.
    pub fn sent(&mut self, serial: u64, out: &mut Vec<Outcome>) {
        self.state = ListenerState::Busy;
        self.in_flight = true;
        out.push(Outcome::Log(
            Level::Debg,
            format!("event {serial} sent to listener {}", self.name),
        ));
    }

    /// The process ended: an event it had not answered goes back to the
    /// pool.
    pub fn ended(&mut self, out: &mut Vec<Outcome>) {
        if self.in_flight {
            self.in_flight = false;
            out.push(Outcome::Requeue);
        }
    }

    /// Bytes read from the listener's stdout.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Outcome>) {
        if self.state == ListenerState::Unknown {
            return;
        }
        self.pending.extend_from_slice(data);
        self.advance(out);
    }

    fn advance(&mut self, out: &mut Vec<Outcome>) {
        // Each pass consumes bytes or returns, so this ends.
        while !self.pending.is_empty() {
            match self.state {
                ListenerState::Unknown => {
                    self.pending.clear();
                    return;
                }
                ListenerState::Acknowledged => {
                    if self.pending.len() < READY_TOKEN.len() {
                        return;
                    }
                    if self.pending.starts_with(READY_TOKEN) {
                        self.pending.drain(..READY_TOKEN.len());
                        self.change(ListenerState::Ready, out);
                    } else {
                        self.pending.clear();
                        self.change(ListenerState::Unknown, out);
                    }
                }
                ListenerState::Ready => {
                    // Spurious data: supervisord is strict about it.
                    self.pending.clear();
                    self.change(ListenerState::Unknown, out);
                    return;
                }
                ListenerState::Busy => {
                    if !self.busy_step(out) {
                        return;
                    }
                }
            }
        }
    }

    /// One step of reading a result; false when more bytes are needed.
    fn busy_step(&mut self, out: &mut Vec<Outcome>) -> bool {
        let Some(len) = self.result_len else {
            let Some(pos) = self.pending.iter().position(|&b| b == b'\n') else {
                if self.pending.len() > MAX_RESULT_LINE {
                    let line: Vec<u8> = std::mem::take(&mut self.pending);
                    self.bad_result_line(&line, out);
                }
                return false;
            };
            let line: Vec<u8> = self.pending.drain(..=pos).take(pos).collect();
            match parse_result_len(line.get(RESULT_PREFIX_LEN..).unwrap_or(&[])) {
                Some(n) => {
                    self.result_len = Some(n);
                    self.result.clear();
                    self.result_got = 0;
                    // supervisord only looks at the body on the next pass
                    // that has bytes: a `RESULT 0\n` alone waits for more.
                    return !self.pending.is_empty();
                }
                None => {
                    self.bad_result_line(&line, out);
                    return false;
                }
            }
        };
        let needed = len.saturating_sub(self.result_got);
        let take = needed.min(self.pending.len());
        let keep = take.min(MAX_RESULT_KEPT.saturating_sub(self.result.len()));
        self.result
            .extend_from_slice(self.pending.get(..keep).unwrap_or(&[]));
        self.pending.drain(..take);
        self.result_got = self.result_got.saturating_add(take);
        if self.result_got < len {
            return false;
        }
        let body = std::mem::take(&mut self.result);
        self.result_len = None;
        self.result_got = 0;
        self.handle_result(&body, out);
        true
    }

    fn bad_result_line(&mut self, line: &[u8], out: &mut Vec<Outcome>) {
        let text = match std::str::from_utf8(line) {
            Ok(s) => s.to_string(),
            Err(_) => format!("Undecodable: {}", bytes_repr(line)),
        };
        out.push(Outcome::Log(
            Level::Warn,
            format!("{}: bad result line: '{text}'", self.name),
        ));
        self.pending.clear();
        self.change(ListenerState::Unknown, out);
        self.requeue(out);
    }

    fn requeue(&mut self, out: &mut Vec<Outcome>) {
        if self.in_flight {
            self.in_flight = false;
            out.push(Outcome::Requeue);
        }
    }

    fn handle_result(&mut self, body: &[u8], out: &mut Vec<Outcome>) {
        let verdict = match self.handler {
            ResultHandler::Default => {
                if body == b"OK" {
                    Ok(None)
                } else {
                    Err(false)
                }
            }
            ResultHandler::SupervisorStdout => supervisor_stdout_line(body).map(Some).ok_or(true),
        };
        match verdict {
            Ok(line) => {
                if let Some(line) = line {
                    out.push(Outcome::Stdout(line));
                }
                out.push(Outcome::Log(
                    Level::Debg,
                    format!("{}: event was processed", self.name),
                ));
                self.change(ListenerState::Acknowledged, out);
                if self.in_flight {
                    self.in_flight = false;
                    out.push(Outcome::Processed);
                }
            }
            Err(false) => {
                out.push(Outcome::Log(
                    Level::Warn,
                    format!("{}: event was rejected", self.name),
                ));
                self.change(ListenerState::Acknowledged, out);
                self.requeue(out);
            }
            Err(true) => {
                out.push(Outcome::Log(
                    Level::Warn,
                    format!("{}: event caused an error", self.name),
                ));
                self.change(ListenerState::Unknown, out);
                self.requeue(out);
            }
        }
    }

    fn change(&mut self, to: ListenerState, out: &mut Vec<Outcome>) {
        let from = self.state;
        out.push(Outcome::Log(
            Level::Debg,
            format!("{}: {} -> {}", self.name, from.name(), to.name()),
        ));
        self.state = to;
        if to == ListenerState::Unknown {
            out.push(Outcome::Log(
                Level::Warn,
                format!(
                    "{}: has entered the UNKNOWN state and will no longer receive events, this usually \
                     indicates the process violated the eventlistener protocol",
                    self.name
                ),
            ));
        }
    }
}

/// The body length of a result line after its first 7 bytes, as Python's
/// `int()` reads it (surrounding whitespace allowed, digits with single
/// underscores). A negative length, which would leave supervisord waiting
/// forever, is a bad line here.
fn parse_result_len(text: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(text).ok()?.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A length beyond usize is a length no listener will ever send.
    Some(digits.parse::<usize>().unwrap_or(usize::MAX))
}

/// `supervisor_stdout`'s handler (its upstream source): the body is
/// `headers\ndata` with a `processname:` and a `channel:` token; every line
/// of the data (split at `\n`, so data ending in a newline gives a last
/// empty line) is printed as `name channel | line`. `None` when the body is
/// not such an echo (the handler would raise).
fn supervisor_stdout_line(body: &[u8]) -> Option<Vec<u8>> {
    let pos = body.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(body.get(..pos)?).ok()?;
    let data = body.get(pos + 1..)?;
    let mut name = None;
    let mut channel = None;
    for token in header.split_whitespace() {
        let (k, v) = token.split_once(':')?;
        match k {
            "processname" => name = Some(v),
            "channel" => channel = Some(v),
            _ => {}
        }
    }
    let prefix = format!("{} {} | ", name?, channel?);
    let mut out = Vec::with_capacity(data.len() + prefix.len() * 2);
    for line in data.split(|&b| b == b'\n') {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(out: &[Outcome]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Outcome::Log(l, m) => Some(format!("{} {m}", l.code())),
                _ => None,
            })
            .collect()
    }

    fn ready(l: &mut Listener) {
        let mut out = Vec::new();
        l.feed(b"READY\n", &mut out);
        assert!(l.is_ready());
    }

    #[test]
    fn ready_then_ok_round_trip_logs_as_supervisord() {
        let mut l = Listener::new("mylistener", ResultHandler::Default);
        let mut out = Vec::new();
        l.feed(b"REA", &mut out);
        assert!(out.is_empty(), "fewer than 6 bytes decide nothing");
        l.feed(b"DY\n", &mut out);
        l.sent(0, &mut out);
        l.feed(b"RESULT 2\nOKREADY\n", &mut out);
        assert_eq!(
            logs(&out),
            [
                "DEBG mylistener: ACKNOWLEDGED -> READY",
                "DEBG event 0 sent to listener mylistener",
                "DEBG mylistener: event was processed",
                "DEBG mylistener: BUSY -> ACKNOWLEDGED",
                "DEBG mylistener: ACKNOWLEDGED -> READY",
            ]
        );
        assert!(out.contains(&Outcome::Processed));
        assert!(l.is_ready());
    }

    #[test]
    fn a_fail_answer_rejects_and_requeues() {
        let mut l = Listener::new("mylistener", ResultHandler::Default);
        ready(&mut l);
        let mut out = Vec::new();
        l.sent(3, &mut out);
        out.clear();
        l.feed(b"RESULT 4\nFAILREADY\n", &mut out);
        assert_eq!(
            logs(&out),
            [
                "WARN mylistener: event was rejected",
                "DEBG mylistener: BUSY -> ACKNOWLEDGED",
                "DEBG mylistener: ACKNOWLEDGED -> READY"
            ]
        );
        assert!(out.contains(&Outcome::Requeue));
    }

    #[test]
    fn garbage_instead_of_ready_is_unknown_forever() {
        let mut l = Listener::new("garbage", ResultHandler::Default);
        let mut out = Vec::new();
        l.feed(b"HELLO\n", &mut out);
        assert_eq!(
            logs(&out),
            [
                "DEBG garbage: ACKNOWLEDGED -> UNKNOWN",
                "WARN garbage: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol"
            ]
        );
        out.clear();
        l.feed(b"READY\n", &mut out);
        assert!(out.is_empty());
        assert_eq!(l.state(), ListenerState::Unknown);
        l.spawned();
        ready(&mut l);
    }

    #[test]
    fn a_bad_result_line_requeues_and_goes_unknown() {
        let mut l = Listener::new("bad", ResultHandler::Default);
        ready(&mut l);
        let mut out = Vec::new();
        l.sent(1, &mut out);
        out.clear();
        l.feed(b"RESULT x\n", &mut out);
        assert_eq!(logs(&out)[0], "WARN bad: bad result line: 'RESULT x'");
        assert_eq!(logs(&out)[1], "DEBG bad: BUSY -> UNKNOWN");
        assert!(out.contains(&Outcome::Requeue));
    }

    #[test]
    fn spurious_data_while_ready_is_a_violation() {
        let mut l = Listener::new("x", ResultHandler::Default);
        ready(&mut l);
        let mut out = Vec::new();
        l.feed(b"?", &mut out);
        assert_eq!(l.state(), ListenerState::Unknown);
    }

    #[test]
    fn result_body_may_arrive_in_pieces() {
        let mut l = Listener::new("x", ResultHandler::Default);
        ready(&mut l);
        let mut out = Vec::new();
        l.sent(0, &mut out);
        for b in b"RESULT  2 \nOK" {
            l.feed(&[*b], &mut out);
        }
        assert!(out.contains(&Outcome::Processed));
        assert_eq!(l.state(), ListenerState::Acknowledged);
    }

    #[test]
    fn a_listener_that_dies_busy_gives_its_event_back() {
        let mut l = Listener::new("x", ResultHandler::Default);
        ready(&mut l);
        let mut out = Vec::new();
        l.sent(0, &mut out);
        out.clear();
        l.ended(&mut out);
        assert_eq!(out, [Outcome::Requeue]);
        out.clear();
        l.ended(&mut out);
        assert!(out.is_empty(), "given back once");
    }

    #[test]
    fn an_endless_result_line_is_bounded() {
        let mut l = Listener::new("x", ResultHandler::Default);
        ready(&mut l);
        let mut out = Vec::new();
        l.sent(0, &mut out);
        l.feed(&vec![b'R'; MAX_RESULT_LINE + 1], &mut out);
        assert_eq!(l.state(), ListenerState::Unknown);
        assert!(out.contains(&Outcome::Requeue));
    }

    #[test]
    fn negative_and_huge_lengths() {
        assert_eq!(parse_result_len(b"-1"), None);
        assert_eq!(parse_result_len(b" 1_0 "), Some(10));
        assert_eq!(parse_result_len(b"1__0"), None);
        assert_eq!(parse_result_len(b"99999999999999999999999"), Some(usize::MAX));
        assert_eq!(parse_result_len(b""), None);
    }

    #[test]
    fn supervisor_stdout_handler_prints_name_channel_and_data() {
        let mut l = Listener::new("stdout", ResultHandler::SupervisorStdout);
        ready(&mut l);
        let mut out = Vec::new();
        l.sent(0, &mut out);
        let body = b"processname:web groupname:web pid:7 channel:stdout\nGET / 200\n";
        let mut msg = format!("RESULT {}\n", body.len()).into_bytes();
        msg.extend_from_slice(body);
        l.feed(&msg, &mut out);
        assert!(out.contains(&Outcome::Stdout(
            b"web stdout | GET / 200\nweb stdout | \n".to_vec()
        )));
        assert!(out.contains(&Outcome::Processed));
        // A body that is not a PROCESS_LOG echo makes the handler fail.
        ready(&mut l);
        out.clear();
        l.sent(1, &mut out);
        l.feed(b"RESULT 2\nOK", &mut out);
        assert!(logs(&out).contains(&"WARN stdout: event caused an error".to_string()));
        assert_eq!(l.state(), ListenerState::Unknown);
    }

    #[test]
    fn handler_specs() {
        assert_eq!(
            ResultHandler::from_spec("supervisor.dispatchers:default_handler"),
            Some(ResultHandler::Default)
        );
        assert_eq!(
            ResultHandler::from_spec("supervisor_stdout:event_handler"),
            Some(ResultHandler::SupervisorStdout)
        );
        assert_eq!(ResultHandler::from_spec("mymod:handler"), None);
    }
}

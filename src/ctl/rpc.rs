//! supervisord's XML-RPC methods (`supervisor.*`, `system.*`) with its
//! fault codes and strings, written against the narrow [`Control`] view of
//! the supervisor so they are testable without processes
//! (docs/control.md).
//!
//! A call that supervisord answers with a deferred callback (start or stop
//! with `wait=true`) returns [`Call::Wait`]; the server keeps the
//! connection pending and polls it after every pass of the loop, which is
//! when process states change.

use super::xmlrpc::Value;
use crate::config::signal_number;
use crate::machine::Millis;

pub const API_VERSION: &str = "3.0";
/// The supervisord release whose interface this is.
pub const SUPERVISOR_VERSION: &str = "4.2.5";

/// supervisord's `xmlrpc.Faults`.
pub mod faults {
    pub const UNKNOWN_METHOD: i32 = 1;
    pub const INCORRECT_PARAMETERS: i32 = 2;
    pub const BAD_ARGUMENTS: i32 = 3;
    pub const SIGNATURE_UNSUPPORTED: i32 = 4;
    pub const SHUTDOWN_STATE: i32 = 6;
    pub const BAD_NAME: i32 = 10;
    pub const BAD_SIGNAL: i32 = 11;
    pub const NO_FILE: i32 = 20;
    pub const NOT_EXECUTABLE: i32 = 21;
    pub const FAILED: i32 = 30;
    pub const ABNORMAL_TERMINATION: i32 = 40;
    pub const SPAWN_ERROR: i32 = 50;
    pub const ALREADY_STARTED: i32 = 60;
    pub const NOT_RUNNING: i32 = 70;
    pub const SUCCESS: i32 = 80;
    pub const ALREADY_ADDED: i32 = 90;
    pub const STILL_RUNNING: i32 = 91;
    pub const CANT_REREAD: i32 = 92;

    /// `getFaultDescription`.
    pub fn name(code: i32) -> &'static str {
        match code {
            UNKNOWN_METHOD => "UNKNOWN_METHOD",
            INCORRECT_PARAMETERS => "INCORRECT_PARAMETERS",
            BAD_ARGUMENTS => "BAD_ARGUMENTS",
            SIGNATURE_UNSUPPORTED => "SIGNATURE_UNSUPPORTED",
            SHUTDOWN_STATE => "SHUTDOWN_STATE",
            BAD_NAME => "BAD_NAME",
            BAD_SIGNAL => "BAD_SIGNAL",
            NO_FILE => "NO_FILE",
            NOT_EXECUTABLE => "NOT_EXECUTABLE",
            FAILED => "FAILED",
            ABNORMAL_TERMINATION => "ABNORMAL_TERMINATION",
            SPAWN_ERROR => "SPAWN_ERROR",
            ALREADY_STARTED => "ALREADY_STARTED",
            NOT_RUNNING => "NOT_RUNNING",
            SUCCESS => "SUCCESS",
            ALREADY_ADDED => "ALREADY_ADDED",
            STILL_RUNNING => "STILL_RUNNING",
            CANT_REREAD => "CANT_REREAD",
            _ => "UNKNOWN",
        }
    }
}

/// An `RPCError`: the code and supervisord's text (`NAME` or `NAME: extra`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub code: i32,
    pub text: String,
}

impl Fault {
    pub fn new(code: i32, extra: Option<&str>) -> Fault {
        let text = match extra {
            Some(e) => format!("{}: {}", faults::name(code), e),
            None => faults::name(code).to_string(),
        };
        Fault { code, text }
    }
}

fn fault<T>(code: i32, extra: &str) -> Result<T, Fault> {
    Err(Fault::new(code, Some(extra)))
}

/// supervisord's process state codes (`states.ProcessStates`).
pub mod states {
    pub const STOPPED: i32 = 0;
    pub const STARTING: i32 = 10;
    pub const RUNNING: i32 = 20;
    pub const BACKOFF: i32 = 30;
    pub const STOPPING: i32 = 40;
    pub const EXITED: i32 = 100;
    pub const FATAL: i32 = 200;

    pub fn name(code: i32) -> &'static str {
        match code {
            STOPPED => "STOPPED",
            STARTING => "STARTING",
            RUNNING => "RUNNING",
            BACKOFF => "BACKOFF",
            STOPPING => "STOPPING",
            EXITED => "EXITED",
            FATAL => "FATAL",
            _ => "UNKNOWN",
        }
    }

    pub fn is_running(code: i32) -> bool {
        matches!(code, RUNNING | STARTING | BACKOFF)
    }

    pub fn is_stopped(code: i32) -> bool {
        matches!(code, STOPPED | EXITED | FATAL)
    }

    pub fn is_signallable(code: i32) -> bool {
        matches!(code, RUNNING | STARTING | STOPPING)
    }
}

/// One process as the interface reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Info {
    pub name: String,
    pub group: String,
    pub state: i32,
    pub pid: i32,
    /// Wall-clock seconds; 0 = never.
    pub start: i64,
    pub stop: i64,
    pub spawnerr: String,
    pub exitstatus: i32,
    pub stdout_logfile: String,
    pub stderr_logfile: String,
}

/// What the methods need from the supervisor. Processes are addressed by
/// index, in supervisord's priority order (the config order).
pub trait Control {
    fn count(&self) -> usize;
    /// Process `i` is part of the configuration (a reload retires the
    /// processes of removed and changed groups; they are not shown).
    fn visible(&self, _i: usize) -> bool {
        true
    }
    fn info(&self, i: usize) -> Info;
    /// Cheap parts of `info`, for name lookups and predicates over many
    /// processes (no allocation: `numprocs=1000` stays fast).
    fn name(&self, i: usize) -> &str;
    fn group(&self, i: usize) -> &str;
    fn state(&self, i: usize) -> i32;
    /// Wall-clock seconds now.
    fn now(&self) -> i64;
    /// A shutdown is in progress (supervisord's mood below RUNNING).
    fn shutting_down(&self) -> bool;
    /// supervisord's pre-spawn check of the command (`NO_FILE` /
    /// `NOT_EXECUTABLE` with the spawn error text).
    fn check_command(&self, i: usize) -> Result<(), Fault>;
    /// Start (spawn now); the state afterwards tells what happened.
    fn start(&mut self, i: usize);
    /// A requested stop (stopsignal, stopwaitsecs, stopasgroup).
    fn stop(&mut self, i: usize);
    /// Send `sig` to the process (its group when stopasgroup/killasgroup).
    fn signal(&mut self, i: usize, sig: i32) -> Result<(), String>;
    fn shutdown(&mut self);
    fn pid(&self) -> i32;
    fn identification(&self) -> String;
    /// The main log file, if it is a file.
    fn main_logfile(&self) -> Option<String>;
    /// `getAllConfigInfo`'s struct for process `i`.
    fn config_info(&self, i: usize) -> Value;
    /// A record in rinit's activity log (bad requests, peers named).
    fn log(&mut self, level: crate::log::Level, msg: &str);
    /// `sendRemoteCommEvent`: a REMOTE_COMMUNICATION event for the
    /// listeners (docs/events.md).
    fn remote_event(&mut self, kind: &str, data: &str);
    /// `reloadConfig`: read the file again; the (added, changed, removed)
    /// group names, or why it could not be read (docs/reload.md).
    fn reread(&mut self) -> Result<[Vec<String>; 3], String>;
    /// `addProcessGroup` of the file last read; `Err` is the fault code.
    fn add_group(&mut self, name: &str) -> Result<(), i32>;
    /// `removeProcessGroup` of a stopped group; `Err` is the fault code.
    fn remove_group(&mut self, name: &str) -> Result<(), i32>;
    /// `restart`: every group stopped and started again from the file.
    fn restart(&mut self);
}

/// The outcome of a call.
pub enum Call {
    Done(Result<Value, Fault>),
    Wait(Deferred),
}

/// The indexes of the processes the configuration has.
fn live<C: Control + ?Sized>(c: &C) -> impl Iterator<Item = usize> + '_ {
    (0..c.count()).filter(move |&i| c.visible(i))
}

fn done(v: Value) -> Call {
    Call::Done(Ok(v))
}

fn failed(f: Fault) -> Call {
    Call::Done(Err(f))
}

/// What a pending start or stop waits for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    Running,
    Stopped,
}

/// A deferred answer.
pub enum Deferred {
    /// One process, answered `true` or a fault.
    One { i: usize, goal: Goal },
    /// A group or all: per-process result structs, in completion order.
    Many {
        results: Vec<Value>,
        waiting: Vec<(usize, Goal)>,
        /// supervisord checks a group's callbacks every 50 ms, so processes
        /// that stop within one interval are reported in group order.
        next_check: Option<Millis>,
    },
    /// A multicall waiting on one of its calls.
    Multi {
        results: Vec<Value>,
        current: Box<Deferred>,
        remaining: Vec<Value>,
    },
}

fn result_struct(info: &Info, code: i32, text: &str) -> Value {
    Value::Struct(vec![
        ("name".into(), Value::str(&info.name)),
        ("group".into(), Value::str(&info.group)),
        ("status".into(), Value::Int(i64::from(code))),
        ("description".into(), Value::str(text)),
    ])
}

fn fault_value(f: &Fault) -> Value {
    Value::Struct(vec![
        ("faultCode".into(), Value::Int(i64::from(f.code))),
        ("faultString".into(), Value::str(&f.text)),
    ])
}

/// supervisord's `startall.delay` / `killall.delay`.
const GROUP_CHECK_EVERY: Millis = 50;

impl Deferred {
    /// When this needs a `poll` even if nothing else happens.
    pub fn wake_at(&self) -> Option<Millis> {
        match self {
            Deferred::One { .. } => None,
            Deferred::Many { next_check, .. } => *next_check,
            Deferred::Multi { current, .. } => current.wake_at(),
        }
    }

    /// `None` while not done.
    pub fn poll(&mut self, c: &mut dyn Control, now: Millis) -> Option<Result<Value, Fault>> {
        match self {
            Deferred::One { i, goal } => check_goal(c, *i, *goal).map(|r| r.map(|()| Value::Bool(true))),
            Deferred::Many {
                results,
                waiting,
                next_check,
            } => {
                match next_check {
                    Some(t) if now >= *t => *next_check = Some(now + GROUP_CHECK_EVERY),
                    Some(_) => return None,
                    None => {
                        *next_check = Some(now + GROUP_CHECK_EVERY);
                        return None;
                    }
                }
                waiting.retain(|&(i, goal)| match check_goal(c, i, goal) {
                    None => true,
                    Some(r) => {
                        let info = c.info(i);
                        results.push(match r {
                            Ok(()) => result_struct(&info, faults::SUCCESS, "OK"),
                            Err(f) => result_struct(&info, f.code, &f.text),
                        });
                        false
                    }
                });
                if waiting.is_empty() {
                    Some(Ok(Value::Array(std::mem::take(results))))
                } else {
                    None
                }
            }
            Deferred::Multi {
                results,
                current,
                remaining,
            } => {
                let r = current.poll(c, now)?;
                results.push(match r {
                    Ok(v) => Value::Array(vec![v]),
                    Err(f) => fault_value(&f),
                });
                match multicall_run(c, std::mem::take(results), std::mem::take(remaining), now) {
                    Call::Done(r) => Some(r),
                    Call::Wait(d) => {
                        *self = d;
                        None
                    }
                }
            }
        }
    }
}

/// supervisord's `onwait` callbacks for one process.
fn check_goal(c: &dyn Control, i: usize, goal: Goal) -> Option<Result<(), Fault>> {
    let info = c.info(i);
    let name = namespec(&info);
    match goal {
        Goal::Running => {
            if !info.spawnerr.is_empty() {
                return Some(fault(faults::SPAWN_ERROR, &name));
            }
            match info.state {
                states::RUNNING => Some(Ok(())),
                states::STARTING => None,
                _ => Some(fault(faults::ABNORMAL_TERMINATION, &name)),
            }
        }
        Goal::Stopped => states::is_stopped(info.state).then_some(Ok(())),
    }
}

fn namespec_of(c: &dyn Control, i: usize) -> String {
    let (g, n) = (c.group(i), c.name(i));
    if g == n {
        n.to_string()
    } else {
        format!("{g}:{n}")
    }
}

fn namespec(info: &Info) -> String {
    if info.group == info.name {
        info.name.clone()
    } else {
        format!("{}:{}", info.group, info.name)
    }
}

/// `split_namespec`: `g:n` → (g, Some(n)), `g:*` / `g:` → (g, None), `n` → (n, Some(n)).
fn split_namespec(name: &str) -> (&str, Option<&str>) {
    match name.split_once(':') {
        Some((g, "*")) | Some((g, "")) => (g, None),
        Some((g, n)) => (g, Some(n)),
        None => (name, Some(name)),
    }
}

/// Processes of group `g` in priority order; empty when there is no such group.
fn group_members(c: &dyn Control, g: &str) -> Vec<usize> {
    live(c).filter(|&i| c.group(i) == g).collect()
}

/// The live members of group `g`; `BAD_NAME` (naming `shown`) when it has
/// none, as supervisord answers for an unknown group.
fn known_group(c: &dyn Control, g: &str, shown: &str) -> Result<Vec<usize>, Fault> {
    let members = group_members(c, g);
    if members.is_empty() {
        return fault(faults::BAD_NAME, shown);
    }
    Ok(members)
}

/// `_getGroupAndProcess`: `Ok(None)` for a whole group.
fn lookup(c: &dyn Control, name: &str) -> Result<(String, Option<usize>), Fault> {
    let (g, p) = split_namespec(name);
    let members = known_group(c, g, name)?;
    match p {
        None => Ok((g.to_string(), None)),
        Some(p) => match members.into_iter().find(|&i| c.name(i) == p) {
            Some(i) => Ok((g.to_string(), Some(i))),
            None => fault(faults::BAD_NAME, name),
        },
    }
}

/// The log file of `name`'s `channel` (`stdout`/`stderr`) for `tail -f`.
pub fn logfile_of(c: &dyn Control, name: &str, channel: &str) -> Option<String> {
    let i = lookup_process(c, name).ok()?;
    let info = c.info(i);
    let f = match channel {
        "stdout" => info.stdout_logfile,
        "stderr" => info.stderr_logfile,
        _ => return None,
    };
    (!f.is_empty()).then_some(f)
}

fn lookup_process(c: &dyn Control, name: &str) -> Result<usize, Fault> {
    match lookup(c, name)? {
        (_, Some(i)) => Ok(i),
        (_, None) => fault(faults::BAD_NAME, name),
    }
}

/// Typed parameter access; a wrong type or count is INCORRECT_PARAMETERS,
/// as Python's TypeError on the call is.
struct Params<'a>(&'a [Value]);

fn incorrect<T>() -> Result<T, Fault> {
    Err(Fault::new(faults::INCORRECT_PARAMETERS, None))
}

impl Params<'_> {
    fn count(&self, min: usize, max: usize) -> Result<(), Fault> {
        if self.0.len() < min || self.0.len() > max {
            return incorrect();
        }
        Ok(())
    }

    fn str(&self, i: usize) -> Result<String, Fault> {
        match self.0.get(i) {
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(Value::Int(n)) => Ok(n.to_string()),
            _ => incorrect(),
        }
    }

    fn int(&self, i: usize) -> Result<i64, Fault> {
        match self.0.get(i) {
            Some(Value::Int(n)) => Ok(*n),
            Some(Value::Bool(b)) => Ok(i64::from(*b)),
            Some(Value::Str(s)) => s
                .trim()
                .parse()
                .map_err(|_| Fault::new(faults::BAD_ARGUMENTS, None)),
            _ => incorrect(),
        }
    }

    /// Python truthiness of an optional flag.
    fn flag(&self, i: usize, default: bool) -> bool {
        match self.0.get(i) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::Int(n)) => *n != 0,
            Some(Value::Str(s)) => !s.is_empty(),
            Some(Value::Nil) => false,
            Some(_) => true,
        }
    }
}

/// Every method rinit answers (`system.listMethods`).
pub const METHODS: &[&str] = &[
    "supervisor.addProcessGroup",
    "supervisor.clearAllProcessLogs",
    "supervisor.clearLog",
    "supervisor.clearProcessLog",
    "supervisor.clearProcessLogs",
    "supervisor.getAPIVersion",
    "supervisor.getAllConfigInfo",
    "supervisor.getAllProcessInfo",
    "supervisor.getIdentification",
    "supervisor.getPID",
    "supervisor.getProcessInfo",
    "supervisor.getState",
    "supervisor.getSupervisorVersion",
    "supervisor.getVersion",
    "supervisor.readLog",
    "supervisor.readMainLog",
    "supervisor.readProcessLog",
    "supervisor.readProcessStderrLog",
    "supervisor.readProcessStdoutLog",
    "supervisor.reloadConfig",
    "supervisor.removeProcessGroup",
    "supervisor.restart",
    "supervisor.sendProcessStdin",
    "supervisor.sendRemoteCommEvent",
    "supervisor.shutdown",
    "supervisor.signalAllProcesses",
    "supervisor.signalProcess",
    "supervisor.signalProcessGroup",
    "supervisor.startAllProcesses",
    "supervisor.startProcess",
    "supervisor.startProcessGroup",
    "supervisor.stopAllProcesses",
    "supervisor.stopProcess",
    "supervisor.stopProcessGroup",
    "supervisor.tailProcessLog",
    "supervisor.tailProcessStderrLog",
    "supervisor.tailProcessStdoutLog",
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
    "system.multicall",
];

/// The methods that raise SHUTDOWN_STATE once a shutdown has begun
/// (supervisord's `_update`).
fn guarded(method: &str) -> bool {
    !matches!(
        method,
        "supervisor.getAPIVersion"
            | "supervisor.getVersion"
            | "supervisor.getSupervisorVersion"
            | "supervisor.getIdentification"
            | "supervisor.getPID"
            | "supervisor.signalProcessGroup"
            | "supervisor.signalAllProcesses"
            | "supervisor.sendRemoteCommEvent"
            | "supervisor.tailProcessLog"
            | "supervisor.tailProcessStdoutLog"
            | "supervisor.tailProcessStderrLog"
            | "supervisor.readProcessLog"
            | "supervisor.readProcessStdoutLog"
            | "supervisor.readProcessStderrLog"
    ) && method.starts_with("supervisor.")
}

/// Run one method.
pub fn call(c: &mut dyn Control, method: &str, params: &[Value], now: Millis) -> Call {
    if guarded(method) && c.shutting_down() {
        return failed(Fault::new(faults::SHUTDOWN_STATE, None));
    }
    match dispatch(c, method, params, now) {
        Ok(call) => call,
        Err(f) => failed(f),
    }
}

fn dispatch(c: &mut dyn Control, method: &str, params: &[Value], now: Millis) -> Result<Call, Fault> {
    let p = Params(params);
    let v = match method {
        "supervisor.getAPIVersion" | "supervisor.getVersion" => {
            p.count(0, 0)?;
            Value::str(API_VERSION)
        }
        "supervisor.getSupervisorVersion" => {
            p.count(0, 0)?;
            Value::str(SUPERVISOR_VERSION)
        }
        "supervisor.getIdentification" => {
            p.count(0, 0)?;
            Value::Str(c.identification())
        }
        "supervisor.getState" => {
            p.count(0, 0)?;
            let (code, name) = if c.shutting_down() {
                (-1, "SHUTDOWN")
            } else {
                (1, "RUNNING")
            };
            Value::Struct(vec![
                ("statecode".into(), Value::Int(code)),
                ("statename".into(), Value::str(name)),
            ])
        }
        "supervisor.getPID" => {
            p.count(0, 0)?;
            Value::Int(i64::from(c.pid()))
        }
        "supervisor.getProcessInfo" => {
            p.count(1, 1)?;
            let i = lookup_process(c, &p.str(0)?)?;
            process_info(c, i)
        }
        "supervisor.getAllProcessInfo" => {
            p.count(0, 0)?;
            Value::Array(lexical(c).into_iter().map(|i| process_info(c, i)).collect())
        }
        "supervisor.getAllConfigInfo" => {
            p.count(0, 0)?;
            let mut all: Vec<(String, Value)> = live(c).map(|i| (c.info(i).name, c.config_info(i))).collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Array(all.into_iter().map(|(_, v)| v).collect())
        }
        "supervisor.startProcess" => {
            p.count(1, 2)?;
            return start_process(c, &p.str(0)?, p.flag(1, true));
        }
        "supervisor.startProcessGroup" => {
            p.count(1, 2)?;
            let g = p.str(0)?;
            let members = known_group(c, &g, &g)?;
            return Ok(start_many(c, members, p.flag(1, true)));
        }
        "supervisor.startAllProcesses" => {
            p.count(0, 1)?;
            let all = live(c).collect();
            return Ok(start_many(c, all, p.flag(0, true)));
        }
        "supervisor.stopProcess" => {
            p.count(1, 2)?;
            return stop_process(c, &p.str(0)?, p.flag(1, true));
        }
        "supervisor.stopProcessGroup" => {
            p.count(1, 2)?;
            let g = p.str(0)?;
            let members = known_group(c, &g, &g)?;
            return Ok(stop_many(c, members, p.flag(1, true)));
        }
        "supervisor.stopAllProcesses" => {
            p.count(0, 1)?;
            let all = live(c).collect();
            return Ok(stop_many(c, all, p.flag(0, true)));
        }
        "supervisor.signalProcess" => {
            p.count(2, 2)?;
            return signal_process(c, &p.str(0)?, &p.str(1)?);
        }
        "supervisor.signalProcessGroup" => {
            p.count(2, 2)?;
            let g = p.str(0)?;
            let members = known_group(c, &g, &g)?;
            signal_many(c, members, &p.str(1)?)?
        }
        "supervisor.signalAllProcesses" => {
            p.count(1, 1)?;
            let all = live(c).collect();
            signal_many(c, all, &p.str(0)?)?
        }
        "supervisor.shutdown" => {
            p.count(0, 0)?;
            c.shutdown();
            Value::Bool(true)
        }
        "supervisor.restart" => {
            // Applied from the file once it reads cleanly; a broken file
            // keeps everything running (docs/reload.md).
            p.count(0, 0)?;
            c.restart();
            Value::Bool(true)
        }
        "supervisor.reloadConfig" => {
            p.count(0, 0)?;
            match c.reread() {
                Ok(lists) => {
                    let names = |v: &[String]| Value::Array(v.iter().map(|n| Value::str(n)).collect());
                    Value::Array(vec![Value::Array(lists.iter().map(|l| names(l)).collect())])
                }
                Err(e) => return fault(faults::CANT_REREAD, &e),
            }
        }
        "supervisor.addProcessGroup" => {
            p.count(1, 1)?;
            let g = p.str(0)?;
            match c.add_group(&g) {
                Ok(()) => Value::Bool(true),
                Err(code) => return fault(code, &g),
            }
        }
        "supervisor.removeProcessGroup" => {
            p.count(1, 1)?;
            let g = p.str(0)?;
            match c.remove_group(&g) {
                Ok(()) => Value::Bool(true),
                Err(code) => return fault(code, &g),
            }
        }
        "supervisor.readLog" | "supervisor.readMainLog" => {
            p.count(2, 2)?;
            let path = c.main_logfile();
            match path {
                Some(f) if std::path::Path::new(&f).exists() => {
                    Value::Str(read_file(&f, p.int(0)?, p.int(1)?)?)
                }
                _ => return fault(faults::NO_FILE, path.as_deref().unwrap_or("None")),
            }
        }
        "supervisor.clearLog" => {
            p.count(0, 0)?;
            match c.main_logfile() {
                Some(f) if std::path::Path::new(&f).exists() => {
                    truncate(&f).map_err(|_| Fault::new(faults::FAILED, None))?;
                    Value::Bool(true)
                }
                _ => return Err(Fault::new(faults::NO_FILE, None)),
            }
        }
        "supervisor.readProcessStdoutLog"
        | "supervisor.readProcessLog"
        | "supervisor.readProcessStderrLog" => {
            p.count(3, 3)?;
            let i = lookup_process(c, &p.str(0)?)?;
            let info = c.info(i);
            let f = if method.ends_with("StderrLog") {
                info.stderr_logfile
            } else {
                info.stdout_logfile
            };
            if f.is_empty() || !std::path::Path::new(&f).exists() {
                return fault(faults::NO_FILE, if f.is_empty() { "None" } else { &f });
            }
            Value::Str(read_file(&f, p.int(1)?, p.int(2)?)?)
        }
        "supervisor.tailProcessStdoutLog"
        | "supervisor.tailProcessLog"
        | "supervisor.tailProcessStderrLog" => {
            p.count(3, 3)?;
            let i = lookup_process(c, &p.str(0)?)?;
            let info = c.info(i);
            let f = if method.ends_with("StderrLog") {
                info.stderr_logfile
            } else {
                info.stdout_logfile
            };
            let (offset, length) = (p.int(1)?, p.int(2)?);
            if f.is_empty() || !std::path::Path::new(&f).exists() {
                Value::Array(vec![Value::str(""), Value::Int(0), Value::Bool(false)])
            } else {
                tail_file(&f, offset, length)
            }
        }
        "supervisor.clearProcessLogs" | "supervisor.clearProcessLog" => {
            p.count(1, 1)?;
            let name = p.str(0)?;
            let i = lookup_process(c, &name)?;
            clear_process_logs(&c.info(i)).map_err(|_| Fault::new(faults::FAILED, Some(&name)))?;
            Value::Bool(true)
        }
        "supervisor.clearAllProcessLogs" => {
            p.count(0, 0)?;
            let mut out = Vec::new();
            for i in live(c) {
                let info = c.info(i);
                out.push(match clear_process_logs(&info) {
                    Ok(()) => result_struct(&info, faults::SUCCESS, "OK"),
                    Err(_) => result_struct(&info, faults::FAILED, &format!("FAILED: {}", namespec(&info))),
                });
            }
            Value::Array(out)
        }
        "supervisor.sendProcessStdin" => {
            p.count(2, 2)?;
            let name = p.str(0)?;
            let Some(Value::Str(_)) = params.get(1) else {
                return incorrect();
            };
            let i = lookup_process(c, &name)?;
            let info = c.info(i);
            if info.pid == 0 || info.state == states::STOPPING {
                return fault(faults::NOT_RUNNING, &name);
            }
            // rinit gives programs no stdin pipe (docs/control.md).
            return fault(faults::NO_FILE, &name);
        }
        "supervisor.sendRemoteCommEvent" => {
            p.count(2, 2)?;
            c.remote_event(&p.str(0)?, &p.str(1)?);
            Value::Bool(true)
        }
        "system.listMethods" => {
            p.count(0, 0)?;
            Value::Array(METHODS.iter().map(|m| Value::str(m)).collect())
        }
        "system.methodHelp" => {
            p.count(1, 1)?;
            let m = p.str(0)?;
            if !METHODS.contains(&m.as_str()) {
                return fault(faults::SIGNATURE_UNSUPPORTED, &m);
            }
            Value::Str(format!("{m}: see supervisord's XML-RPC API documentation"))
        }
        "system.methodSignature" => {
            p.count(1, 1)?;
            let m = p.str(0)?;
            if !METHODS.contains(&m.as_str()) {
                return fault(faults::SIGNATURE_UNSUPPORTED, &m);
            }
            return Err(Fault::new(faults::SIGNATURE_UNSUPPORTED, None));
        }
        "system.multicall" => {
            p.count(1, 1)?;
            let Some(Value::Array(calls)) = params.first() else {
                return incorrect();
            };
            return Ok(multicall_run(c, Vec::new(), calls.clone(), now));
        }
        _ => return Err(Fault::new(faults::UNKNOWN_METHOD, None)),
    };
    Ok(done(v))
}

fn multicall_run(
    c: &mut dyn Control,
    mut results: Vec<Value>,
    mut remaining: Vec<Value>,
    now: Millis,
) -> Call {
    while !remaining.is_empty() {
        let one = remaining.remove(0);
        let name = one
            .member("methodName")
            .and_then(Value::as_str)
            .map(str::to_string);
        let params = match one.member("params") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let r = match name.as_deref() {
            None => Call::Done(Err(Fault::new(
                faults::INCORRECT_PARAMETERS,
                Some("No methodName"),
            ))),
            Some("system.multicall") => Call::Done(Err(Fault::new(
                faults::INCORRECT_PARAMETERS,
                Some("Recursive system.multicall forbidden"),
            ))),
            Some(m) => call(c, m, &params, now),
        };
        match r {
            Call::Done(Ok(v)) => results.push(Value::Array(vec![v])),
            Call::Done(Err(f)) => results.push(fault_value(&f)),
            Call::Wait(mut d) => match d.poll(c, now) {
                Some(Ok(v)) => results.push(Value::Array(vec![v])),
                Some(Err(f)) => results.push(fault_value(&f)),
                None => {
                    return Call::Wait(Deferred::Multi {
                        results,
                        current: Box::new(d),
                        remaining,
                    })
                }
            },
        }
    }
    done(Value::Array(results))
}

/// Processes sorted by (group, name), as `getAllProcessInfo` lists them.
fn lexical(c: &dyn Control) -> Vec<usize> {
    let mut v: Vec<(&str, &str, usize)> = live(c).map(|i| (c.group(i), c.name(i), i)).collect();
    v.sort();
    v.into_iter().map(|(_, _, i)| i).collect()
}

/// `getProcessInfo`'s struct, with supervisord's `description`.
pub fn process_info(c: &dyn Control, i: usize) -> Value {
    let info = c.info(i);
    let now = c.now();
    let description = describe(&info, now);
    Value::Struct(vec![
        ("name".into(), Value::str(&info.name)),
        ("group".into(), Value::str(&info.group)),
        ("start".into(), Value::Int(info.start)),
        ("stop".into(), Value::Int(info.stop)),
        ("now".into(), Value::Int(now)),
        ("state".into(), Value::Int(i64::from(info.state))),
        ("statename".into(), Value::str(states::name(info.state))),
        ("spawnerr".into(), Value::str(&info.spawnerr)),
        ("exitstatus".into(), Value::Int(i64::from(info.exitstatus))),
        ("logfile".into(), Value::str(&info.stdout_logfile)),
        ("stdout_logfile".into(), Value::str(&info.stdout_logfile)),
        ("stderr_logfile".into(), Value::str(&info.stderr_logfile)),
        ("pid".into(), Value::Int(i64::from(info.pid))),
        ("description".into(), Value::Str(description)),
    ])
}

/// `_interpretProcessInfo`.
pub fn describe(info: &Info, now: i64) -> String {
    match info.state {
        states::RUNNING => {
            let up = (now - info.start).max(0);
            let (days, rest) = (up / 86400, up % 86400);
            let hms = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
            let uptime = match days {
                0 => hms,
                1 => format!("1 day, {hms}"),
                d => format!("{d} days, {hms}"),
            };
            format!("pid {}, uptime {}", info.pid, uptime)
        }
        states::FATAL | states::BACKOFF => {
            if info.spawnerr.is_empty() {
                format!("unknown error (try \"tail {}\")", info.name)
            } else {
                info.spawnerr.clone()
            }
        }
        states::STOPPED | states::EXITED => {
            if info.start != 0 {
                local_time_text(info.stop)
            } else {
                "Not started".to_string()
            }
        }
        _ => String::new(),
    }
}

/// `strftime('%b %d %I:%M %p')` of a wall-clock time in local time.
fn local_time_text(t: i64) -> String {
    let Some(tm) = crate::sys::local_time(t) else {
        return String::new();
    };
    let month = crate::sys::month_abbr(&tm);
    let hour12 = match tm.tm_hour % 12 {
        0 => 12,
        h => h,
    };
    let ampm = if tm.tm_hour < 12 { "AM" } else { "PM" };
    format!(
        "{} {:02} {:02}:{:02} {}",
        month, tm.tm_mday, hour12, tm.tm_min, ampm
    )
}

fn start_process(c: &mut dyn Control, name: &str, wait: bool) -> Result<Call, Fault> {
    let (g, i) = lookup(c, name)?;
    let Some(i) = i else {
        let members = group_members(c, &g);
        return Ok(start_many(c, members, wait));
    };
    start_one(c, i, name, wait)
}

/// `startProcess` for process `i` (`name` for the fault texts).
fn start_one(c: &mut dyn Control, i: usize, name: &str, wait: bool) -> Result<Call, Fault> {
    c.check_command(i)?;
    if states::is_running(c.state(i)) {
        return fault(faults::ALREADY_STARTED, name);
    }
    c.start(i);
    let info = c.info(i);
    if !info.spawnerr.is_empty() {
        return fault(faults::SPAWN_ERROR, name);
    }
    if wait && info.state != states::RUNNING {
        return Ok(Call::Wait(Deferred::One {
            i,
            goal: Goal::Running,
        }));
    }
    Ok(done(Value::Bool(true)))
}

fn stop_process(c: &mut dyn Control, name: &str, wait: bool) -> Result<Call, Fault> {
    let (g, i) = lookup(c, name)?;
    let Some(i) = i else {
        let members = group_members(c, &g);
        return Ok(stop_many(c, members, wait));
    };
    stop_one(c, i, name, wait)
}

fn stop_one(c: &mut dyn Control, i: usize, name: &str, wait: bool) -> Result<Call, Fault> {
    if !states::is_running(c.state(i)) {
        return fault(faults::NOT_RUNNING, name);
    }
    c.stop(i);
    if wait && !states::is_stopped(c.state(i)) {
        return Ok(Call::Wait(Deferred::One {
            i,
            goal: Goal::Stopped,
        }));
    }
    Ok(done(Value::Bool(true)))
}

/// `make_allfunc` over `members` for start (predicate: not running).
fn start_many(c: &mut dyn Control, members: Vec<usize>, wait: bool) -> Call {
    many(c, members, |c, i| {
        if states::is_running(c.state(i)) {
            return None;
        }
        let name = namespec_of(c, i);
        Some(start_one(c, i, &name, wait))
    })
}

fn stop_many(c: &mut dyn Control, members: Vec<usize>, wait: bool) -> Call {
    many(c, members, |c, i| {
        if !states::is_running(c.state(i)) {
            return None;
        }
        let name = namespec_of(c, i);
        Some(stop_one(c, i, &name, wait))
    })
}

fn many(
    c: &mut dyn Control,
    members: Vec<usize>,
    mut each: impl FnMut(&mut dyn Control, usize) -> Option<Result<Call, Fault>>,
) -> Call {
    let mut results = Vec::new();
    let mut waiting = Vec::new();
    for i in members {
        match each(c, i) {
            None => {}
            Some(Err(f)) => results.push(result_struct(&c.info(i), f.code, &f.text)),
            Some(Ok(Call::Done(Ok(_)))) => results.push(result_struct(&c.info(i), faults::SUCCESS, "OK")),
            Some(Ok(Call::Done(Err(f)))) => results.push(result_struct(&c.info(i), f.code, &f.text)),
            Some(Ok(Call::Wait(Deferred::One { i, goal }))) => waiting.push((i, goal)),
            Some(Ok(Call::Wait(_))) => {}
        }
    }
    if waiting.is_empty() {
        return done(Value::Array(results));
    }
    Call::Wait(Deferred::Many {
        results,
        waiting,
        next_check: None,
    })
}

fn signal_process(c: &mut dyn Control, name: &str, sig: &str) -> Result<Call, Fault> {
    let (g, i) = lookup(c, name)?;
    let Some(i) = i else {
        let members = group_members(c, &g);
        return Ok(done(signal_many(c, members, sig)?));
    };
    let Ok(signum) = signal_number(sig) else {
        return fault(faults::BAD_SIGNAL, sig);
    };
    if !states::is_signallable(c.state(i)) {
        return fault(faults::NOT_RUNNING, name);
    }
    c.signal(i, signum)
        .map_err(|m| Fault::new(faults::FAILED, Some(&m)))?;
    Ok(done(Value::Bool(true)))
}

fn signal_many(c: &mut dyn Control, members: Vec<usize>, sig: &str) -> Result<Value, Fault> {
    let mut results = Vec::new();
    for i in members {
        let info = c.info(i);
        if !states::is_signallable(info.state) {
            continue;
        }
        let r = match signal_process(c, &namespec(&info), sig) {
            Ok(_) => result_struct(&info, faults::SUCCESS, "OK"),
            Err(f) => result_struct(&info, f.code, &f.text),
        };
        results.push(r);
    }
    Ok(Value::Array(results))
}

/// Most bytes one read returns (a client asking for more gets this much).
const MAX_READ: u64 = 1 << 20;

/// Open a log file for the interface: non-blocking open, and only a
/// regular file (a FIFO or device as `stdout_logfile` would block PID 1's
/// loop on read).
pub fn open_regular(path: &str, write: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(f)
}

/// `readFile`: `offset < 0` reads that many bytes from the end.
fn read_file(path: &str, offset: i64, length: i64) -> Result<String, Fault> {
    use std::io::{Read, Seek, SeekFrom};
    let bad = || Fault::new(faults::BAD_ARGUMENTS, None);
    let failed = |_| Fault::new(faults::FAILED, None);
    let mut f = match open_regular(path, false) {
        Ok(f) => f,
        // Not a regular file (`logfile=/dev/null`…): nothing to read.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(String::new()),
        Err(e) => return Err(failed(e)),
    };
    let size = f.metadata().map_err(failed)?.len();
    let (pos, want) = if offset < 0 {
        if length != 0 {
            return Err(bad());
        }
        let back = offset.unsigned_abs();
        (size.saturating_sub(back), back)
    } else {
        if length < 0 {
            return Err(bad());
        }
        let want = if length == 0 {
            size.saturating_sub(offset as u64)
        } else {
            length as u64
        };
        (offset as u64, want)
    };
    f.seek(SeekFrom::Start(pos)).map_err(failed)?;
    let mut buf = Vec::new();
    f.take(want.min(MAX_READ)).read_to_end(&mut buf).map_err(failed)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `tailFile`: `[bytes, new offset, overflow]`.
fn tail_file(path: &str, offset: i64, length: i64) -> Value {
    use std::io::{Read, Seek, SeekFrom};
    let empty = |off: i64| Value::Array(vec![Value::str(""), Value::Int(off), Value::Bool(false)]);
    let Ok(mut f) = open_regular(path, false) else {
        return empty(offset);
    };
    let Ok(meta) = f.metadata() else {
        return empty(offset);
    };
    let sz = i64::try_from(meta.len()).unwrap_or(i64::MAX);
    let (mut offset, mut length) = (offset, length.min(MAX_READ as i64));
    let mut overflow = false;
    if sz > offset.saturating_add(length) {
        overflow = true;
        offset = sz - 1;
    }
    if offset.saturating_add(length) > sz {
        if offset > sz - 1 {
            length = 0;
        }
        offset = sz - length;
    }
    offset = offset.max(0);
    length = length.max(0);
    let mut buf = Vec::new();
    if length > 0 && f.seek(SeekFrom::Start(offset as u64)).is_ok() {
        let _ = f.take(length as u64).read_to_end(&mut buf);
    }
    Value::Array(vec![
        Value::Str(String::from_utf8_lossy(&buf).into_owned()),
        Value::Int(sz),
        Value::Bool(overflow),
    ])
}

/// Truncate in place: the writer keeps its O_APPEND descriptor, as
/// supervisord's remove-and-reopen leaves the log empty.
fn truncate(path: &str) -> std::io::Result<()> {
    open_regular(path, true)?.set_len(0)
}

fn clear_process_logs(info: &Info) -> std::io::Result<()> {
    for f in [&info.stdout_logfile, &info.stderr_logfile] {
        if !f.is_empty() && std::path::Path::new(f).exists() {
            truncate(f)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake supervisor: processes whose start/stop change state at once
    /// or on `settle`.
    struct Fake {
        procs: Vec<Info>,
        bad_command: Option<usize>,
        down: bool,
        signals: Vec<(usize, i32)>,
    }

    impl Fake {
        fn new(names: &[(&str, &str)]) -> Fake {
            Fake {
                procs: names
                    .iter()
                    .map(|(g, n)| Info {
                        name: n.to_string(),
                        group: g.to_string(),
                        ..Info::default()
                    })
                    .collect(),
                bad_command: None,
                down: false,
                signals: Vec::new(),
            }
        }
    }

    impl Control for Fake {
        fn count(&self) -> usize {
            self.procs.len()
        }
        fn info(&self, i: usize) -> Info {
            self.procs[i].clone()
        }
        fn name(&self, i: usize) -> &str {
            &self.procs[i].name
        }
        fn group(&self, i: usize) -> &str {
            &self.procs[i].group
        }
        fn state(&self, i: usize) -> i32 {
            self.procs[i].state
        }
        fn now(&self) -> i64 {
            1000
        }
        fn shutting_down(&self) -> bool {
            self.down
        }
        fn check_command(&self, i: usize) -> Result<(), Fault> {
            if self.bad_command == Some(i) {
                return Err(Fault::new(faults::NO_FILE, Some("can't find command 'x'")));
            }
            Ok(())
        }
        fn start(&mut self, i: usize) {
            self.procs[i].state = states::STARTING;
            self.procs[i].pid = 42;
            self.procs[i].start = 990;
        }
        fn stop(&mut self, i: usize) {
            self.procs[i].state = states::STOPPING;
        }
        fn signal(&mut self, i: usize, sig: i32) -> Result<(), String> {
            self.signals.push((i, sig));
            Ok(())
        }
        fn shutdown(&mut self) {
            self.down = true;
        }
        fn pid(&self) -> i32 {
            1
        }
        fn identification(&self) -> String {
            "supervisor".into()
        }
        fn main_logfile(&self) -> Option<String> {
            None
        }
        fn config_info(&self, i: usize) -> Value {
            Value::Struct(vec![("name".into(), Value::str(&self.procs[i].name))])
        }
        fn log(&mut self, _: crate::log::Level, _: &str) {}
        fn remote_event(&mut self, _: &str, _: &str) {}
        fn reread(&mut self) -> Result<[Vec<String>; 3], String> {
            Ok([vec![], vec![], vec![]])
        }
        fn add_group(&mut self, _: &str) -> Result<(), i32> {
            Err(faults::ALREADY_ADDED)
        }
        fn remove_group(&mut self, _: &str) -> Result<(), i32> {
            Err(faults::STILL_RUNNING)
        }
        fn restart(&mut self) {}
    }

    fn run(c: &mut Fake, m: &str, p: &[Value]) -> Result<Value, Fault> {
        match call(c, m, p, 0) {
            Call::Done(r) => r,
            Call::Wait(_) => panic!("{m} deferred"),
        }
    }

    #[test]
    fn names_resolve_as_supervisord_splits_them() {
        let mut c = Fake::new(&[("web", "web"), ("g", "a"), ("g", "b")]);
        assert!(run(&mut c, "supervisor.getProcessInfo", &[Value::str("web")]).is_ok());
        assert!(run(&mut c, "supervisor.getProcessInfo", &[Value::str("g:a")]).is_ok());
        assert_eq!(
            run(&mut c, "supervisor.getProcessInfo", &[Value::str("a")]),
            Err(Fault::new(faults::BAD_NAME, Some("a")))
        );
        assert_eq!(
            run(&mut c, "supervisor.getProcessInfo", &[Value::str("g:*")]),
            Err(Fault::new(faults::BAD_NAME, Some("g:*")))
        );
        assert_eq!(
            run(&mut c, "nope.x", &[]),
            Err(Fault::new(faults::UNKNOWN_METHOD, None))
        );
        assert_eq!(
            run(&mut c, "supervisor.getPID", &[Value::Int(1)]),
            Err(Fault::new(faults::INCORRECT_PARAMETERS, None))
        );
    }

    #[test]
    fn start_waits_for_running_and_reports_abnormal_termination() {
        let mut c = Fake::new(&[("web", "web")]);
        let Call::Wait(mut d) = call(&mut c, "supervisor.startProcess", &[Value::str("web")], 0) else {
            panic!("not deferred")
        };
        assert_eq!(d.poll(&mut c, 0), None);
        c.procs[0].state = states::RUNNING;
        assert_eq!(d.poll(&mut c, 0), Some(Ok(Value::Bool(true))));
        assert_eq!(
            run(&mut c, "supervisor.startProcess", &[Value::str("web")]),
            Err(Fault::new(faults::ALREADY_STARTED, Some("web")))
        );
        c.procs[0].state = states::STOPPED;
        let Call::Wait(mut d) = call(&mut c, "supervisor.startProcess", &[Value::str("web")], 0) else {
            panic!("not deferred")
        };
        c.procs[0].state = states::EXITED;
        assert_eq!(
            d.poll(&mut c, 0),
            Some(Err(Fault::new(faults::ABNORMAL_TERMINATION, Some("web"))))
        );
        c.bad_command = Some(0);
        assert_eq!(
            run(&mut c, "supervisor.startProcess", &[Value::str("web")]),
            Err(Fault::new(faults::NO_FILE, Some("can't find command 'x'")))
        );
    }

    #[test]
    fn group_stop_collects_results_as_processes_stop() {
        let mut c = Fake::new(&[("g", "a"), ("g", "b")]);
        c.procs[0].state = states::RUNNING;
        let Call::Wait(mut d) = call(&mut c, "supervisor.stopProcessGroup", &[Value::str("g")], 0) else {
            panic!("not deferred")
        };
        assert_eq!(d.poll(&mut c, 0), None);
        assert_eq!(d.wake_at(), Some(50));
        c.procs[0].state = states::STOPPED;
        assert_eq!(d.poll(&mut c, 49), None);
        let Some(Ok(Value::Array(r))) = d.poll(&mut c, 50) else {
            panic!()
        };
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].member("status"), Some(&Value::Int(80)));
    }

    #[test]
    fn signals_by_name_and_bad_signal() {
        let mut c = Fake::new(&[("web", "web")]);
        assert_eq!(
            run(
                &mut c,
                "supervisor.signalProcess",
                &[Value::str("web"), Value::str("HUP")]
            ),
            Err(Fault::new(faults::NOT_RUNNING, Some("web")))
        );
        c.procs[0].state = states::RUNNING;
        assert_eq!(
            run(
                &mut c,
                "supervisor.signalProcess",
                &[Value::str("web"), Value::str("BOGUS")]
            ),
            Err(Fault::new(faults::BAD_SIGNAL, Some("BOGUS")))
        );
        assert!(run(
            &mut c,
            "supervisor.signalProcess",
            &[Value::str("web"), Value::str("usr1")]
        )
        .is_ok());
        assert_eq!(c.signals, vec![(0, libc::SIGUSR1)]);
    }

    /// A FIFO as a log file must not block the loop: refused at once.
    #[test]
    fn log_reads_refuse_a_fifo_without_blocking() {
        let dir = std::env::temp_dir().join(format!("rinit-ctl-fifo-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let fifo = dir.join("log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let path = fifo.display().to_string();
        assert!(open_regular(&path, false).is_err());
        assert_eq!(read_file(&path, -100, 0), Ok(String::new()));
        assert_eq!(
            tail_file(&path, 0, 100),
            Value::Array(vec![Value::str(""), Value::Int(0), Value::Bool(false)])
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn description_texts_match_supervisord() {
        let mut i = Info {
            name: "web".into(),
            state: states::RUNNING,
            pid: 7,
            start: 1000,
            ..Info::default()
        };
        assert_eq!(describe(&i, 1005), "pid 7, uptime 0:00:05");
        assert_eq!(
            describe(&i, 1000 + 2 * 86400 + 3661),
            "pid 7, uptime 2 days, 1:01:01"
        );
        i.state = states::FATAL;
        assert_eq!(describe(&i, 0), "unknown error (try \"tail web\")");
        i.state = states::STOPPED;
        i.start = 0;
        assert_eq!(describe(&i, 0), "Not started");
    }

    #[test]
    fn shutdown_state_refuses_changes_and_multicall_collects() {
        let mut c = Fake::new(&[("web", "web")]);
        let calls = Value::Array(vec![
            Value::Struct(vec![(
                "methodName".into(),
                Value::str("supervisor.getAPIVersion"),
            )]),
            Value::Struct(vec![("methodName".into(), Value::str("system.multicall"))]),
        ]);
        let r = run(&mut c, "system.multicall", &[calls]).unwrap();
        let Value::Array(r) = r else { panic!() };
        assert_eq!(r[0], Value::Array(vec![Value::str("3.0")]));
        assert_eq!(r[1].member("faultCode"), Some(&Value::Int(2)));
        c.down = true;
        assert_eq!(
            run(&mut c, "supervisor.getAllProcessInfo", &[]),
            Err(Fault::new(faults::SHUTDOWN_STATE, None))
        );
        assert!(run(&mut c, "supervisor.getAPIVersion", &[]).is_ok());
    }
}

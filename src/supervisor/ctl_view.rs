//! The control interface's view of the supervisor (`ctl::Control`): what
//! the XML-RPC methods read and do, through the machine's own methods
//! (docs/control.md). A child module of `supervisor` so the loop's fields
//! stay private.

use super::Supervisor;
use crate::config::{LogDest, ProcessConfig};
use crate::ctl::rpc::{faults, states, Control, Fault, Info};
use crate::ctl::xmlrpc::Value;
use crate::log::Level;
use crate::machine::{Exit, Outcome, State};
use crate::spawn::{self, SpawnError};
use crate::sys;

/// What `ctl` needs from `[supervisord]`, kept apart from the consumed config.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub identifier: String,
    pub logfile: Option<String>,
}

fn state_code(s: State) -> i32 {
    match s {
        State::Stopped => states::STOPPED,
        State::Starting => states::STARTING,
        State::Running => states::RUNNING,
        State::Backoff => states::BACKOFF,
        State::Stopping => states::STOPPING,
        State::Exited => states::EXITED,
        State::Fatal => states::FATAL,
    }
}

fn logfile(d: &LogDest) -> String {
    match d {
        LogDest::File(p) => p.display().to_string(),
        _ => String::new(),
    }
}

impl Supervisor {
    /// Wall-clock milliseconds of the loop's epoch.
    fn wall_epoch_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        wall - self.now() as i64
    }
}

fn opt_str(v: &Option<String>) -> Value {
    match v {
        Some(s) if s.eq_ignore_ascii_case("auto") => Value::str("auto"),
        Some(s) => Value::str(s),
        None => Value::str("none"),
    }
}

fn config_struct(p: &ProcessConfig, group_prio: i32) -> Value {
    let b = Value::Bool;
    let i = |n: i64| Value::Int(n);
    let uid = match &p.user {
        Some(u) => crate::users::resolve(u).map_or(Value::str("none"), |u| i(i64::from(u.uid))),
        None => Value::str("none"),
    };
    Value::Struct(vec![
        ("autostart".into(), b(p.autostart)),
        ("directory".into(), opt_str(&p.directory)),
        ("uid".into(), uid),
        ("command".into(), Value::str(&p.command)),
        (
            "exitcodes".into(),
            Value::Array(p.exitcodes.iter().map(|c| i(i64::from(*c))).collect()),
        ),
        ("group".into(), Value::str(&p.group)),
        ("group_prio".into(), i(i64::from(group_prio))),
        ("inuse".into(), b(true)),
        ("killasgroup".into(), b(p.killasgroup)),
        ("name".into(), Value::str(&p.name)),
        ("process_prio".into(), i(i64::from(p.priority))),
        ("redirect_stderr".into(), b(p.redirect_stderr)),
        ("startretries".into(), i(i64::from(p.startretries))),
        ("startsecs".into(), i(p.startsecs as i64)),
        (
            "stdout_capture_maxbytes".into(),
            i(p.stdout_capture_maxbytes as i64),
        ),
        ("stdout_events_enabled".into(), b(p.stdout_events_enabled)),
        ("stdout_logfile".into(), opt_str(&p.stdout_logfile)),
        (
            "stdout_logfile_backups".into(),
            i(i64::from(p.stdout_logfile_backups)),
        ),
        (
            "stdout_logfile_maxbytes".into(),
            i(p.stdout_logfile_maxbytes as i64),
        ),
        ("stdout_syslog".into(), b(p.stdout_syslog)),
        ("stopsignal".into(), i(i64::from(p.stopsignal))),
        ("stopwaitsecs".into(), i(p.stopwaitsecs as i64)),
        (
            "stderr_capture_maxbytes".into(),
            i(p.stderr_capture_maxbytes as i64),
        ),
        ("stderr_events_enabled".into(), b(p.stderr_events_enabled)),
        ("stderr_logfile".into(), opt_str(&p.stderr_logfile)),
        (
            "stderr_logfile_backups".into(),
            i(i64::from(p.stderr_logfile_backups)),
        ),
        (
            "stderr_logfile_maxbytes".into(),
            i(p.stderr_logfile_maxbytes as i64),
        ),
        ("stderr_syslog".into(), b(p.stderr_syslog)),
        ("serverurl".into(), opt_str(&p.serverurl)),
    ])
}

impl Control for Supervisor {
    fn count(&self) -> usize {
        self.procs.len()
    }

    fn visible(&self, i: usize) -> bool {
        !self.reloads.retired(i)
    }

    fn info(&self, i: usize) -> Info {
        let Some(p) = self.procs.get(i) else {
            return Info::default();
        };
        let epoch = self.wall_epoch_ms();
        let wall = |t: Option<u64>| t.map_or(0, |t| (epoch + t as i64) / 1000);
        let spawnerr = p.spawnerr.clone().unwrap_or_default();
        // supervisord: `exitstatus` is None (0) after a too-quick exit.
        let exitstatus = match p.outcome {
            Outcome::Exited { exit, .. } if !spawnerr.starts_with("Exited too quickly") => match exit {
                Exit::Code(c) => c,
                Exit::Signal { .. } => -1,
            },
            _ => 0,
        };
        Info {
            name: p.cfg.name.clone(),
            group: p.cfg.group.clone(),
            state: state_code(p.state()),
            pid: p.pid.unwrap_or(0),
            start: wall(p.laststart()),
            stop: wall(p.laststop),
            spawnerr,
            exitstatus,
            stdout_logfile: logfile(&p.cfg.stdout),
            stderr_logfile: logfile(&p.cfg.stderr),
        }
    }

    fn name(&self, i: usize) -> &str {
        self.procs.get(i).map_or("", |p| p.cfg.name.as_str())
    }

    fn group(&self, i: usize) -> &str {
        self.procs.get(i).map_or("", |p| p.cfg.group.as_str())
    }

    fn state(&self, i: usize) -> i32 {
        self.procs
            .get(i)
            .map_or(states::STOPPED, |p| state_code(p.state()))
    }

    fn now(&self) -> i64 {
        (self.wall_epoch_ms() + self.now() as i64) / 1000
    }

    fn shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    fn check_command(&self, i: usize) -> Result<(), Fault> {
        let Some(p) = self.procs.get(i) else { return Ok(()) };
        match spawn::resolve_command(
            &p.cfg.command,
            p.cfg.directory.as_deref(),
            &p.cfg.environment,
            &self.base_env,
        ) {
            Ok(_) => Ok(()),
            Err(e @ SpawnError::NotFound(_)) => Err(Fault::new(faults::NO_FILE, Some(&e.to_string()))),
            Err(
                e @ (SpawnError::IsDirectory(_)
                | SpawnError::NotExecutable(_)
                | SpawnError::NoPermission(_)
                | SpawnError::Parse { .. }
                | SpawnError::Empty),
            ) => Err(Fault::new(faults::NOT_EXECUTABLE, Some(&e.to_string()))),
            Err(_) => Ok(()),
        }
    }

    fn start(&mut self, i: usize) {
        self.start_or_queue(i);
    }

    fn stop(&mut self, i: usize) {
        if i >= self.procs.len() {
            return;
        }
        let now = self.now();
        let mut out = Vec::new();
        self.procs[i].stop(now, false, &mut out);
        self.perform(i, out);
    }

    fn signal(&mut self, i: usize, sig: i32) -> Result<(), String> {
        let Some(pid) = self.procs.get(i).and_then(|p| p.pid) else {
            return Err("process is not running".into());
        };
        // supervisord signals the main pid only.
        sys::kill(pid, sig, false).map_err(|e| sys::errno_name(&e))
    }

    fn shutdown(&mut self) {
        if self.shutdown.is_none() {
            self.logger.log(
                Level::Warn,
                "received shutdown request from the control interface",
            );
            self.begin_shutdown(0);
        }
    }

    fn pid(&self) -> i32 {
        sys::getpid()
    }

    fn identification(&self) -> String {
        self.ctl_facts.identifier.clone()
    }

    fn main_logfile(&self) -> Option<String> {
        self.ctl_facts.logfile.clone()
    }

    fn config_info(&self, i: usize) -> Value {
        match self.procs.get(i) {
            Some(p) => config_struct(&p.cfg, self.group_priority.get(i).copied().unwrap_or(999)),
            None => Value::Nil,
        }
    }

    fn log(&mut self, level: Level, msg: &str) {
        self.logger.log(level, msg);
    }

    fn reread(&mut self) -> Result<[Vec<String>; 3], String> {
        let d = self.reread_config()?;
        Ok([d.added, d.changed, d.removed])
    }

    fn add_group(&mut self, name: &str) -> Result<(), i32> {
        self.add_group_named(name)
    }

    fn remove_group(&mut self, name: &str) -> Result<(), i32> {
        self.remove_group_named(name)
    }

    fn restart(&mut self) {
        self.restart_all();
    }

    fn remote_event(&mut self, kind: &str, data: &str) {
        let event = crate::events::Event::remote_communication(kind, data);
        self.listeners.publish(event, &mut self.logger);
    }
}

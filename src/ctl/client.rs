//! `rinit ctl COMMAND…` (and rinit invoked as `supervisorctl`): the
//! commands, output lines and exit codes of supervisorctl 4.2.5 against
//! any supervisord-compatible XML-RPC server (docs/control.md).
//!
//! A blocking client in its own process: nothing here runs in PID 1's loop.

use super::http::base64_encode;
use super::rpc::{faults, states};
use super::xmlrpc::{self, Value};
use std::io::{Read, Write};
use std::path::Path;

/// supervisorctl's `LSBInitExitStatuses` / `LSBStatusExitStatuses`.
mod exit {
    pub const GENERIC: i32 = 1;
    pub const INVALID_ARGS: i32 = 2;
    pub const UNIMPLEMENTED_FEATURE: i32 = 3;
    pub const INSUFFICIENT_PRIVILEGES: i32 = 4;
    pub const NOT_INSTALLED: i32 = 5;
    pub const NOT_RUNNING: i32 = 7;
    pub const STATUS_NOT_RUNNING: i32 = 3;
    pub const STATUS_UNKNOWN: i32 = 4;
}

#[derive(Debug)]
enum Error {
    Fault(i64, String),
    Http(u16, String),
    Io(std::io::Error),
    Protocol(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

struct Client {
    serverurl: String,
    auth: Option<String>,
}

impl Client {
    fn connect(&self) -> Result<Box<dyn ReadWrite>, Error> {
        if let Some(path) = self.serverurl.strip_prefix("unix://") {
            return Ok(Box::new(std::os::unix::net::UnixStream::connect(path)?));
        }
        if let Some(rest) = self.serverurl.strip_prefix("http://") {
            let hostport = rest.split('/').next().unwrap_or("");
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(':') => (h, p),
                _ => (hostport, "80"),
            };
            let addr = super::server::inet_addr(host, port).map_err(Error::Protocol)?;
            return Ok(Box::new(std::net::TcpStream::connect(addr)?));
        }
        Err(Error::Protocol(format!(
            "Unknown protocol for serverurl {}",
            self.serverurl
        )))
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<Response, Error> {
        let mut s = self.connect()?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: rinit-ctl\r\nContent-Type: text/xml\r\nAccept: text/xml\r\nContent-Length: {}\r\n",
            body.len()
        );
        if method == "POST" {
            head.push_str("Connection: close\r\n");
        }
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: Basic {a}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        // Read the head.
        let mut buf = Vec::new();
        let mut byte = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = s.read(&mut byte)?;
            if n == 0 {
                return Err(Error::Protocol("connection closed before a response".into()));
            }
            buf.extend_from_slice(&byte[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let rest = buf[head_end + 4..].to_vec();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Error::Protocol("bad status line".into()))?;
        let reason = head
            .lines()
            .next()
            .unwrap_or("")
            .splitn(3, ' ')
            .nth(2)
            .unwrap_or("")
            .to_string();
        if status != 200 {
            return Err(Error::Http(status, reason));
        }
        Ok((s, head, rest))
    }

    fn call(&self, method: &str, params: &[Value]) -> Result<Value, Error> {
        let body = xmlrpc::call(method, params);
        let (mut s, head, mut body) = self.request("POST", "/RPC2", body.as_bytes())?;
        let length = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        });
        match length {
            Some(n) => {
                while body.len() < n {
                    let mut b = [0u8; 16384];
                    let k = s.read(&mut b)?;
                    if k == 0 {
                        break;
                    }
                    body.extend_from_slice(&b[..k]);
                }
                body.truncate(n);
            }
            None => {
                s.read_to_end(&mut body)?;
            }
        }
        match xmlrpc::parse_response(&body) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err((code, text))) => Err(Error::Fault(code, text)),
            Err(e) => Err(Error::Protocol(e.0)),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A 200 response: the connection, the head, the body bytes read so far.
type Response = (Box<dyn ReadWrite>, String, Vec<u8>);

fn int(v: &Value, key: &str) -> i64 {
    match v.member(key) {
        Some(Value::Int(i)) => *i,
        Some(Value::Bool(b)) => i64::from(*b),
        _ => 0,
    }
}

fn text(v: &Value, key: &str) -> String {
    v.member(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

fn split_namespec(name: &str) -> (String, Option<String>) {
    match name.split_once(':') {
        Some((g, "*")) | Some((g, "")) => (g.to_string(), None),
        Some((g, n)) => (g.to_string(), Some(n.to_string())),
        None => (name.to_string(), Some(name.to_string())),
    }
}

struct Ctl {
    client: Client,
    exitstatus: i32,
}

type Res = Result<(), Error>;

impl Ctl {
    fn out(&self, s: &str) {
        println!("{s}");
    }

    fn set_from_fault(&mut self, code: i64, ignored: Option<i64>) {
        let code = code as i32;
        if Some(i64::from(code)) == ignored || code == faults::SUCCESS {
            return;
        }
        self.exitstatus = if matches!(
            code,
            faults::SPAWN_ERROR | faults::ABNORMAL_TERMINATION | faults::NOT_RUNNING
        ) {
            exit::NOT_RUNNING
        } else {
            exit::GENERIC
        };
    }

    /// supervisorctl's `upcheck`.
    fn upcheck(&mut self) -> Result<bool, Error> {
        match self.client.call("supervisor.getVersion", &[]) {
            Ok(Value::Str(v)) if v == super::rpc::API_VERSION => Ok(true),
            Ok(v) => {
                let shown = v.as_str().unwrap_or("?").to_string();
                self.out(&format!(
                    "Sorry, this version of supervisorctl expects to talk to a server with API version {}, but the remote version is {}.",
                    super::rpc::API_VERSION,
                    shown
                ));
                self.exitstatus = exit::NOT_INSTALLED;
                Ok(false)
            }
            Err(Error::Fault(c, _)) if c == i64::from(faults::UNKNOWN_METHOD) => {
                self.out("Sorry, supervisord responded but did not recognize the supervisor namespace commands that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] section is enabled in the configuration file (see sample.conf).");
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(false)
            }
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.out(&format!("{} refused connection", self.client.serverurl));
                self.exitstatus = exit::INSUFFICIENT_PRIVILEGES;
                Ok(false)
            }
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                self.out(&format!("{} no such file", self.client.serverurl));
                self.exitstatus = exit::NOT_RUNNING;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn status(&mut self, names: &[String]) -> Res {
        if !self.upcheck()? {
            self.exitstatus = exit::STATUS_UNKNOWN;
            return Ok(());
        }
        let Value::Array(all) = self.client.call("supervisor.getAllProcessInfo", &[])? else {
            return Err(Error::Protocol("getAllProcessInfo: not an array".into()));
        };
        let mut matching: Vec<&Value> = Vec::new();
        if names.is_empty() || names.iter().any(|n| n == "all") {
            matching = all.iter().collect();
        } else {
            for name in names {
                let (g, p) = split_namespec(name);
                let before = matching.len();
                for info in &all {
                    if text(info, "group") == g && p.as_ref().is_none_or(|p| text(info, "name") == *p) {
                        matching.push(info);
                    }
                }
                if matching.len() == before {
                    match p {
                        None => self.out(&format!("{g}: ERROR (no such group)")),
                        Some(_) => self.out(&format!("{name}: ERROR (no such process)")),
                    }
                    self.exitstatus = exit::STATUS_UNKNOWN;
                }
            }
        }
        let specs: Vec<String> = matching
            .iter()
            .map(|i| namespec(&text(i, "group"), &text(i, "name")))
            .collect();
        let width = specs.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(30) + 3;
        for (info, spec) in matching.iter().zip(&specs) {
            let line = format!(
                "{:<width$}{:<10}{}",
                spec,
                text(info, "statename"),
                text(info, "description")
            );
            self.out(&line);
        }
        for info in &matching {
            if states::is_stopped(int(info, "state") as i32) {
                self.exitstatus = exit::STATUS_NOT_RUNNING;
            }
        }
        Ok(())
    }

    fn start_result(&self, r: &Value) -> String {
        let name = namespec(&text(r, "group"), &text(r, "name"));
        let what = match int(r, "status") as i32 {
            faults::BAD_NAME => "no such process",
            faults::NO_FILE => "no such file",
            faults::NOT_EXECUTABLE => "file is not executable",
            faults::ALREADY_STARTED => "already started",
            faults::SPAWN_ERROR => "spawn error",
            faults::ABNORMAL_TERMINATION => "abnormal termination",
            faults::SUCCESS => return format!("{name}: started"),
            _ => return format!("{name}: ERROR ({})", text(r, "description")),
        };
        format!("{name}: ERROR ({what})")
    }

    fn signal_result(&self, r: &Value, success: &str) -> String {
        let name = namespec(&text(r, "group"), &text(r, "name"));
        let what = match int(r, "status") as i32 {
            faults::BAD_NAME => "no such process",
            faults::BAD_SIGNAL => "bad signal name",
            faults::NOT_RUNNING => "not running",
            faults::SUCCESS => return format!("{name}: {success}"),
            _ => return text(r, "description"),
        };
        format!("{name}: ERROR ({what})")
    }

    fn clear_result(&self, r: &Value) -> String {
        let name = namespec(&text(r, "group"), &text(r, "name"));
        match int(r, "status") as i32 {
            faults::BAD_NAME => format!("{name}: ERROR (no such process)"),
            faults::SUCCESS => format!("{name}: cleared"),
            _ => format!("{name}: ERROR (failed)"),
        }
    }

    fn fault_struct(code: i64, text: &str, group: &str, name: &str) -> Value {
        Value::Struct(vec![
            ("status".into(), Value::Int(code)),
            ("name".into(), Value::str(name)),
            ("group".into(), Value::str(group)),
            ("description".into(), Value::str(text)),
        ])
    }

    /// start / stop / signal / clear over names, groups or `all`.
    fn each(&mut self, verb: &str, names: &[String], sig: Option<&str>) -> Res {
        let sigv = || sig.map(Value::str).into_iter().collect::<Vec<_>>();
        let (all_m, group_m, one_m, ignored, done_word) = match verb {
            "start" => (
                "startAllProcesses",
                "startProcessGroup",
                "startProcess",
                Some(faults::ALREADY_STARTED),
                "started",
            ),
            "stop" => (
                "stopAllProcesses",
                "stopProcessGroup",
                "stopProcess",
                Some(faults::NOT_RUNNING),
                "stopped",
            ),
            "signal" => (
                "signalAllProcesses",
                "signalProcessGroup",
                "signalProcess",
                None,
                "signalled",
            ),
            _ => ("clearAllProcessLogs", "", "clearProcessLogs", None, "cleared"),
        };
        let ignored = ignored.map(i64::from);
        let show = |me: &Ctl, r: &Value| match verb {
            "start" => me.start_result(r),
            "stop" => me.signal_result(r, "stopped"),
            "signal" => me.signal_result(r, "signalled"),
            _ => me.clear_result(r),
        };
        if names.iter().any(|n| n == "all") {
            let Value::Array(results) = self.client.call(&format!("supervisor.{all_m}"), &sigv())? else {
                return Ok(());
            };
            for r in &results {
                self.out(&show(self, r));
                self.set_from_fault(int(r, "status"), ignored);
            }
            return Ok(());
        }
        for name in names {
            let (g, p) = split_namespec(name);
            match p {
                None if !group_m.is_empty() => {
                    let mut params = vec![Value::str(&g)];
                    params.extend(sigv());
                    match self.client.call(&format!("supervisor.{group_m}"), &params) {
                        Ok(Value::Array(results)) => {
                            for r in &results {
                                self.out(&show(self, r));
                                self.set_from_fault(int(r, "status"), ignored);
                            }
                        }
                        Ok(_) => {}
                        Err(Error::Fault(c, _)) if c == i64::from(faults::BAD_NAME) => {
                            self.out(&format!("{g}: ERROR (no such group)"));
                            self.exitstatus = if verb == "start" {
                                exit::INVALID_ARGS
                            } else {
                                exit::GENERIC
                            };
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ => {
                    let pname = p.clone().unwrap_or_default();
                    let mut params = vec![Value::str(name)];
                    params.extend(sigv());
                    match self.client.call(&format!("supervisor.{one_m}"), &params) {
                        Ok(_) => self.out(&format!("{}: {done_word}", namespec(&g, &pname))),
                        Err(Error::Fault(c, t)) => {
                            let r = Ctl::fault_struct(c, &t, &g, &pname);
                            self.out(&show(self, &r));
                            self.set_from_fault(c, ignored);
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    fn pid(&mut self, names: &[String]) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        if names.is_empty() {
            let v = self.client.call("supervisor.getPID", &[])?;
            self.out(&match v {
                Value::Int(i) => i.to_string(),
                _ => String::new(),
            });
        } else if names.iter().any(|n| n == "all") {
            if let Value::Array(all) = self.client.call("supervisor.getAllProcessInfo", &[])? {
                for i in &all {
                    self.out(&int(i, "pid").to_string());
                }
            }
        } else {
            for name in names {
                match self.client.call("supervisor.getProcessInfo", &[Value::str(name)]) {
                    Ok(info) => {
                        let pid = int(&info, "pid");
                        self.out(&pid.to_string());
                        if pid == 0 {
                            self.exitstatus = exit::NOT_RUNNING;
                        }
                    }
                    Err(Error::Fault(c, _)) if c == i64::from(faults::BAD_NAME) => {
                        self.exitstatus = exit::GENERIC;
                        self.out(&format!("No such process {name}"));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    fn tail(&mut self, args: &[String]) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        if args.is_empty() || args.len() > 3 {
            self.out(if args.is_empty() {
                "Error: too few arguments"
            } else {
                "Error: too many arguments"
            });
            self.exitstatus = exit::GENERIC;
            self.out(TAIL_HELP);
            return Ok(());
        }
        let mut args = args.to_vec();
        let modifier = if args[0].starts_with('-') {
            Some(args.remove(0))
        } else {
            None
        };
        let (name, channel) = match args.len() {
            1 => (args[0].clone(), "stdout".to_string()),
            0 => {
                self.out("Error: tail requires process name");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            _ => {
                let ch = args[args.len() - 1].to_lowercase();
                if ch != "stderr" && ch != "stdout" {
                    self.out(&format!("Error: bad channel {}", crate::pyrepr::repr(&ch)));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
                (args[0].clone(), ch)
            }
        };
        let mut bytes: i64 = 1600;
        if let Some(m) = &modifier {
            let what = &m[1..];
            if what == "f" {
                return self.follow(&format!("/logtail/{name}/{channel}"));
            }
            match what.parse() {
                Ok(n) => bytes = n,
                Err(_) => {
                    self.out(&format!("Error: bad argument {m}"));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
            }
        }
        let method = if channel == "stdout" {
            "supervisor.readProcessStdoutLog"
        } else {
            "supervisor.readProcessStderrLog"
        };
        match self
            .client
            .call(method, &[Value::str(&name), Value::Int(-bytes), Value::Int(0)])
        {
            Ok(v) => self.out(v.as_str().unwrap_or("")),
            Err(Error::Fault(c, _)) => {
                self.exitstatus = exit::GENERIC;
                let what = match c as i32 {
                    faults::NO_FILE => "no log file",
                    faults::FAILED => "unknown error reading log",
                    faults::BAD_NAME => "no such process name",
                    _ => "unknown error",
                };
                self.out(&format!("{name}: ERROR ({what})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn maintail(&mut self, args: &[String]) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut bytes: i64 = 1600;
        if args.len() > 1 {
            self.out("Error: too many arguments");
            self.exitstatus = exit::GENERIC;
            self.out(MAINTAIL_HELP);
            return Ok(());
        }
        if let Some(a) = args.first() {
            match a.strip_prefix('-') {
                Some("f") => return self.follow("/mainlogtail"),
                Some(n) if n.parse::<i64>().is_ok() => bytes = n.parse().unwrap_or(1600),
                _ => {
                    self.out(&format!("Error: bad argument {a}"));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
            }
        }
        match self
            .client
            .call("supervisor.readLog", &[Value::Int(-bytes), Value::Int(0)])
        {
            Ok(v) => self.out(v.as_str().unwrap_or("")),
            Err(Error::Fault(c, _)) => {
                self.exitstatus = exit::GENERIC;
                let what = if c == i64::from(faults::NO_FILE) {
                    "no log file"
                } else {
                    "unknown error reading log"
                };
                self.out(&format!("supervisord: ERROR ({what})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `tail -f`: stream the chunked body until the server closes.
    fn follow(&mut self, path: &str) -> Res {
        self.out("==> Press Ctrl-C to exit <==");
        let (mut s, _, mut buf) = match self.client.request("GET", path, b"") {
            Ok(x) => x,
            Err(Error::Http(code, _)) => {
                self.out(&format!(
                    "{}{} Cannot read, status code {code}",
                    self.client.serverurl, path
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut stdout = std::io::stdout();
        loop {
            // Decode every complete chunk in `buf`.
            while let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(String::from_utf8_lossy(&buf[..i]).trim(), 16).unwrap_or(0);
                if size == 0 {
                    return Ok(());
                }
                let Some(end) = (i + 2).checked_add(size) else {
                    return Err(Error::Protocol("bad chunk size".into()));
                };
                let Some(data) = buf.get(i + 2..end) else { break };
                if buf.len() < end + 2 {
                    break;
                }
                let _ = stdout.write_all(data);
                let _ = stdout.flush();
                buf.drain(..end + 2);
            }
            let mut b = [0u8; 16384];
            let n = s.read(&mut b)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&b[..n]);
        }
    }

    fn avail(&mut self) -> Res {
        match self.client.call("supervisor.getAllConfigInfo", &[]) {
            Ok(Value::Array(all)) => {
                for c in &all {
                    let name = namespec(&text(c, "group"), &text(c, "name"));
                    let inuse = if int(c, "inuse") != 0 { "in use" } else { "avail" };
                    let auto = if int(c, "autostart") != 0 {
                        "auto"
                    } else {
                        "manual"
                    };
                    let prio = format!("{}:{}", int(c, "group_prio"), int(c, "process_prio"));
                    self.out(&format!("{name:<32} {inuse:<9} {auto:<9} {prio}"));
                }
            }
            Ok(_) => {}
            Err(Error::Fault(c, _)) if c == i64::from(faults::SHUTDOWN_STATE) => {
                self.exitstatus = exit::GENERIC;
                self.out("ERROR: supervisor shutting down");
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `reread`: supervisorctl's `_formatChanges` of `reloadConfig`.
    fn reread(&mut self) -> Res {
        match self.client.call("supervisor.reloadConfig", &[]) {
            Ok(Value::Array(outer)) => {
                let Some(Value::Array(parts)) = outer.first() else {
                    return Ok(());
                };
                let mut changes: Vec<(String, &str)> = Vec::new();
                for (part, word) in parts.iter().zip(["available", "changed", "disappeared"]) {
                    if let Value::Array(names) = part {
                        for n in names.iter().filter_map(Value::as_str) {
                            changes.retain(|(k, _)| k != n);
                            changes.push((n.to_string(), word));
                        }
                    }
                }
                changes.sort();
                if changes.is_empty() {
                    self.out("No config updates to processes");
                }
                for (n, w) in changes {
                    self.out(&format!("{n}: {w}"));
                }
            }
            Ok(_) => {}
            Err(Error::Fault(c, t))
                if c == i64::from(faults::SHUTDOWN_STATE) || c == i64::from(faults::CANT_REREAD) =>
            {
                self.exitstatus = exit::GENERIC;
                if c == i64::from(faults::CANT_REREAD) {
                    self.out(&format!("ERROR: {t}"));
                } else {
                    self.out("ERROR: supervisor shutting down");
                }
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                return Err(e);
            }
        }
        Ok(())
    }

    /// `update [group…]`: supervisorctl's `do_update` — reread, then stop
    /// and remove the removed groups, stop, remove and add the changed
    /// ones, add the added ones.
    fn update(&mut self, args: &[String]) -> Res {
        let result = match self.client.call("supervisor.reloadConfig", &[]) {
            Ok(v) => v,
            Err(Error::Fault(c, _)) if c == i64::from(faults::SHUTDOWN_STATE) => {
                self.exitstatus = exit::GENERIC;
                self.out("ERROR: already shutting down");
                return Ok(());
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                return Err(e);
            }
        };
        let names = |v: Option<&Value>| -> Vec<String> {
            match v {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
                _ => Vec::new(),
            }
        };
        let parts = match &result {
            Value::Array(outer) => match outer.first() {
                Some(Value::Array(p)) => p.clone(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let (added, changed, removed) = (names(parts.first()), names(parts.get(1)), names(parts.get(2)));
        let mut wanted: Vec<String> = args.to_vec();
        if wanted.iter().any(|g| g == "all") {
            wanted.clear();
        }
        if !wanted.is_empty() {
            let mut groups: Vec<String> = added.clone();
            if let Value::Array(all) = self.client.call("supervisor.getAllProcessInfo", &[])? {
                groups.extend(all.iter().map(|i| text(i, "group")));
            }
            for g in &wanted {
                if !groups.contains(g) {
                    self.out(&format!("ERROR: no such group: {g}"));
                    self.exitstatus = exit::GENERIC;
                }
            }
        }
        let take = |g: &String| wanted.is_empty() || wanted.contains(g);
        for g in removed.iter().filter(|g| take(g)) {
            let results = self
                .client
                .call("supervisor.stopProcessGroup", &[Value::str(g)])?;
            self.out(&format!("{g}: stopped"));
            let failed = match &results {
                Value::Array(r) => r.iter().any(|x| int(x, "status") == i64::from(faults::FAILED)),
                _ => false,
            };
            if failed {
                self.out(&format!("{g}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.client
                .call("supervisor.removeProcessGroup", &[Value::str(g)])?;
            self.out(&format!("{g}: removed process group"));
        }
        for g in changed.iter().filter(|g| take(g)) {
            self.client
                .call("supervisor.stopProcessGroup", &[Value::str(g)])?;
            self.out(&format!("{g}: stopped"));
            self.client
                .call("supervisor.removeProcessGroup", &[Value::str(g)])?;
            self.client.call("supervisor.addProcessGroup", &[Value::str(g)])?;
            self.out(&format!("{g}: updated process group"));
        }
        for g in added.iter().filter(|g| take(g)) {
            self.client.call("supervisor.addProcessGroup", &[Value::str(g)])?;
            self.out(&format!("{g}: added process group"));
        }
        Ok(())
    }

    fn add_remove(&mut self, cmd: &str, names: &[String]) -> Res {
        for name in names {
            let method = if cmd == "add" {
                "supervisor.addProcessGroup"
            } else {
                "supervisor.removeProcessGroup"
            };
            match self.client.call(method, &[Value::str(name)]) {
                Ok(_) if cmd == "add" => self.out(&format!("{name}: added process group")),
                Ok(_) => self.out(&format!("{name}: removed process group")),
                Err(Error::Fault(code, text)) => {
                    let c = code as i32;
                    match (cmd, c) {
                        ("add", faults::SHUTDOWN_STATE) => {
                            self.out("ERROR: shutting down");
                            self.exitstatus = exit::GENERIC;
                        }
                        ("add", faults::ALREADY_ADDED) => self.out("ERROR: process group already active"),
                        (_, faults::BAD_NAME) => {
                            self.out(&format!("ERROR: no such process/group: {name}"));
                            self.exitstatus = exit::GENERIC;
                        }
                        ("remove", faults::STILL_RUNNING) => {
                            self.out(&format!("ERROR: process/group still running: {name}"));
                            self.exitstatus = exit::GENERIC;
                        }
                        _ => {
                            self.exitstatus = exit::GENERIC;
                            return Err(Error::Fault(code, text));
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn shutdown(&mut self) -> Res {
        match self.client.call("supervisor.shutdown", &[]) {
            Ok(_) => self.out("Shut down"),
            Err(Error::Fault(c, _)) if c == i64::from(faults::SHUTDOWN_STATE) => {
                self.out("ERROR: already shutting down");
                self.exitstatus = exit::GENERIC;
            }
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.exitstatus = exit::GENERIC;
                self.out(&format!(
                    "ERROR: {} refused connection (already shut down?)",
                    self.client.serverurl
                ));
            }
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                self.exitstatus = exit::GENERIC;
                self.out(&format!(
                    "ERROR: {} no such file (already shut down?)",
                    self.client.serverurl
                ));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn onecmd(&mut self, cmd: &str, args: &[String]) -> Res {
        let need_names = |me: &mut Ctl, msg: &str, code: i32| -> bool {
            if args.is_empty() {
                me.out(msg);
                me.exitstatus = code;
                return false;
            }
            true
        };
        let no_args = |me: &mut Ctl, c: &str| -> bool {
            if !args.is_empty() {
                me.out(&format!("Error: {c} accepts no arguments"));
                me.exitstatus = exit::GENERIC;
                return false;
            }
            true
        };
        match cmd {
            "status" => self.status(args),
            "start" | "stop" | "clear" => {
                if !self.upcheck()? {
                    return Ok(());
                }
                let code = if cmd == "start" {
                    exit::INVALID_ARGS
                } else {
                    exit::GENERIC
                };
                if need_names(self, &format!("Error: {cmd} requires a process name"), code) {
                    self.each(cmd, args, None)?;
                }
                Ok(())
            }
            "restart" => {
                if !self.upcheck()? {
                    return Ok(());
                }
                if need_names(self, "Error: restart requires a process name", exit::GENERIC) {
                    self.onecmd("stop", args)?;
                    self.onecmd("start", args)?;
                }
                Ok(())
            }
            "signal" => {
                if !self.upcheck()? {
                    return Ok(());
                }
                if args.len() < 2 {
                    self.out("Error: signal requires a signal name and a process name");
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
                self.each("signal", &args[1..], Some(&args[0]))
            }
            "pid" => self.pid(args),
            "tail" => self.tail(args),
            "maintail" => self.maintail(args),
            "avail" => {
                if no_args(self, "avail") {
                    self.avail()?;
                }
                Ok(())
            }
            "shutdown" => {
                if no_args(self, "shutdown") {
                    self.shutdown()?;
                }
                Ok(())
            }
            "version" => {
                if no_args(self, "version") && self.upcheck()? {
                    let v = self.client.call("supervisor.getSupervisorVersion", &[])?;
                    self.out(v.as_str().unwrap_or(""));
                }
                Ok(())
            }
            "reread" => {
                if no_args(self, "reread") {
                    self.reread()?;
                }
                Ok(())
            }
            "add" | "remove" => self.add_remove(cmd, args),
            "reload" => {
                if no_args(self, "reload") {
                    match self.client.call("supervisor.restart", &[]) {
                        Ok(_) => self.out("Restarted supervisord"),
                        Err(Error::Fault(c, _)) if c == i64::from(faults::SHUTDOWN_STATE) => {
                            self.exitstatus = exit::GENERIC;
                            self.out("ERROR: already shutting down");
                        }
                        Err(e) => {
                            self.exitstatus = exit::GENERIC;
                            return Err(e);
                        }
                    }
                }
                Ok(())
            }
            "update" => self.update(args),
            "help" => {
                self.out(&help_text(args));
                Ok(())
            }
            _ => {
                let line = std::iter::once(cmd.to_string())
                    .chain(args.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(" ");
                self.out(&format!("*** Unknown syntax: {line}"));
                self.exitstatus = exit::GENERIC;
                Ok(())
            }
        }
    }
}

const TAIL_HELP: &str = "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr";
const MAINTAIL_HELP: &str = "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n";

/// Each action's `help <action>` text, as supervisorctl 4.2.5 prints it
/// (its `help_*` methods); the order is the listing's (alphabetical).
/// supervisorctl's `fg` and `open` are not implemented and not listed.
const HELP: &[(&str, &str)] = &[
    ("add", "add <name> [...]\tActivates any updates in config for process/group"),
    ("avail", "avail\t\t\tDisplay all configured processes"),
    (
        "clear",
        "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files",
    ),
    ("exit", "exit\tExit the supervisor shell."),
    ("maintail", MAINTAIL_HELP),
    (
        "pid",
        "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line.",
    ),
    ("quit", "quit\tExit the supervisor shell."),
    ("reload", "reload \t\tRestart the remote supervisord."),
    ("remove", "remove <name> [...]\tRemoves process/group from active config"),
    ("reread", "reread \t\t\tReload the daemon's configuration files without add/remove"),
    (
        "restart",
        "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\nNote: restart does not reread config files. For that, see reread and update.",
    ),
    ("shutdown", "shutdown \tShut the remote supervisord down."),
    (
        "signal",
        "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes",
    ),
    (
        "start",
        "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes",
    ),
    (
        "status",
        "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info",
    ),
    (
        "stop",
        "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes",
    ),
    ("tail", TAIL_HELP),
    (
        "update",
        "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups",
    ),
    ("version", "version\t\t\tShow the version of the remote supervisord process"),
];

/// `help help`, which supervisorctl answers but does not list.
const HELP_HELP: &str = "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>";

/// The `help` action: with no topic, the listing Python's `cmd` module
/// prints (a blank line, the header, its ruler, the names in columns within
/// 79 characters, a blank line); with a topic, that action's text.
fn help_text(args: &[String]) -> String {
    let Some(topic) = args.first() else {
        let header = "default commands (type help <topic>):";
        let names: Vec<&str> = HELP.iter().map(|(name, _)| *name).collect();
        return format!(
            "\n{header}\n{}\n{}",
            "=".repeat(header.len()),
            columnize(&names, 79)
        );
    };
    if topic == "help" {
        return HELP_HELP.to_string();
    }
    match HELP.iter().find(|(name, _)| name == topic) {
        Some((_, text)) => text.to_string(),
        None => format!("*** No help on {topic}"),
    }
}

/// Python's `cmd.Cmd.columnize`: the fewest rows whose columns, two spaces
/// apart, fit in `width`; names fill each column top to bottom, and every
/// cell is padded to its column's width (trailing spaces included).
fn columnize(names: &[&str], width: usize) -> String {
    let size = names.len();
    let widths_for = |nrows: usize| -> Option<Vec<usize>> {
        let mut widths = Vec::new();
        let mut total = 0usize;
        for col in names.chunks(nrows) {
            let w = col.iter().map(|n| n.len()).max().unwrap_or(0);
            total += w + if widths.is_empty() { 0 } else { 2 };
            widths.push(w);
            if total > width {
                return None;
            }
        }
        Some(widths)
    };
    let (nrows, widths) = (1..size)
        .find_map(|nrows| widths_for(nrows).map(|w| (nrows, w)))
        .unwrap_or((size.max(1), vec![0]));
    let mut out = String::new();
    for row in 0..nrows {
        let cells: Vec<&str> = (0..widths.len())
            .filter_map(|col| names.get(row + nrows * col).copied())
            .collect();
        for (col, cell) in cells.iter().enumerate() {
            if col > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            let pad = widths.get(col).map_or(0, |w| w.saturating_sub(cell.len()));
            out.push_str(&" ".repeat(pad));
        }
        out.push('\n');
    }
    out
}

const USAGE: &str = "supervisorctl -- control applications run by supervisord (or rinit) from the cmd line.

Usage: rinit ctl [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-s/--serverurl URL -- URL on which supervisord server is listening
     (default \"http://localhost:9001\").
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server

action [arguments] -- see below

Actions: status, start, stop, restart, signal, pid, tail, maintail, clear,
avail, shutdown, version, reread, add, remove, update, reload, help. Without an action: a shell (quit, exit or ^D to leave).";

/// `rinit ctl ARGS…` / `supervisorctl ARGS…`; returns the exit status.
pub fn main(argv0: &str, args: &[String]) -> i32 {
    let mut config: Option<String> = None;
    let mut serverurl: Option<String> = None;
    let mut username: Option<String> = None;
    let mut password: Option<String> = None;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let value = |i: &mut usize| -> Option<String> {
            if inline.is_some() {
                return inline.clone();
            }
            *i += 1;
            args.get(*i).cloned()
        };
        let slot = match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "-c" | "--configuration" => &mut config,
            "-s" | "--serverurl" => &mut serverurl,
            "-u" | "--username" => &mut username,
            "-p" | "--password" => &mut password,
            f if f.starts_with('-') => {
                eprintln!("Error: option {f} not recognized\nFor help, use {argv0} -h");
                return 2;
            }
            _ => break,
        };
        match value(&mut i) {
            Some(v) => *slot = Some(v),
            None => {
                eprintln!("Error: option {flag} requires argument\nFor help, use {argv0} -h");
                return 2;
            }
        }
        i += 1;
    }
    let rest = args.get(i..).unwrap_or(&[]);
    let path = match config {
        Some(c) => Some(std::path::PathBuf::from(c)),
        None => crate::config::locate(Path::new(argv0)).ok(),
    };
    let mut opts = crate::config::CtlOptions {
        serverurl: crate::config::DEFAULT_SERVERURL.to_string(),
        ..Default::default()
    };
    if let Some(p) = &path {
        match crate::config::ctl_options(p) {
            Ok(o) => opts = o,
            Err(e) => {
                eprintln!("Error: {e}\nFor help, use {argv0} -h");
                return 2;
            }
        }
    }
    if let Some(s) = serverurl {
        opts.serverurl = s;
    }
    if username.is_some() {
        opts.username = username;
    }
    if password.is_some() {
        opts.password = password;
    }
    let auth = match (&opts.username, &opts.password) {
        (Some(u), Some(p)) => Some(base64_encode(format!("{u}:{p}").as_bytes())),
        _ => None,
    };
    let mut ctl = Ctl {
        client: Client {
            serverurl: opts.serverurl,
            auth,
        },
        exitstatus: 0,
    };
    let Some((cmd, cargs)) = rest.split_first() else {
        shell(&mut ctl);
        // supervisorctl: "exitstatus always 0 for interactive mode".
        return 0;
    };
    run_one(&mut ctl, cmd, cargs);
    ctl.exitstatus
}

/// supervisorctl's shell, without readline: `status` first, then one
/// command per line after `supervisor> ` until `quit`, `exit` or EOF.
fn shell(ctl: &mut Ctl) {
    use std::io::BufRead;
    run_one(ctl, "status", &[]);
    let stdin = std::io::stdin();
    loop {
        print!("supervisor> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                ctl.out("");
                return;
            }
            Ok(_) => {}
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let Some((cmd, args)) = words.split_first() else {
            continue;
        };
        if cmd == "quit" || cmd == "exit" {
            return;
        }
        run_one(ctl, cmd, args);
    }
}

fn run_one(ctl: &mut Ctl, cmd: &str, cargs: &[String]) {
    match ctl.onecmd(cmd, cargs) {
        Ok(()) => {}
        Err(Error::Http(401, _)) => {
            ctl.out("Server requires authentication");
            ctl.exitstatus = exit::GENERIC;
        }
        Err(e) => {
            let msg = match e {
                Error::Fault(c, t) => format!("<Fault {c}: {}>", crate::pyrepr::repr(&t)),
                Error::Http(c, r) => format!("<ProtocolError: {c} {r}>"),
                Error::Io(e) => e.to_string(),
                Error::Protocol(m) => m,
            };
            ctl.out(&format!("error: {msg}"));
            ctl.exitstatus = exit::GENERIC;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// supervisorctl 4.2.5's `help` listing of its 21 actions, byte for
    /// byte (trailing spaces included): the layout rule is Python's.
    #[test]
    fn columnize_lays_out_supervisorctls_listing_as_python_does() {
        let all = [
            "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
            "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
            "version",
        ];
        assert_eq!(
            columnize(&all, 79),
            "add    exit      open  reload  restart   start   tail   \n\
             avail  fg        pid   remove  shutdown  status  update \n\
             clear  maintail  quit  reread  signal    stop    version\n"
        );
        assert_eq!(columnize(&["one"], 79), "one\n");
    }

    #[test]
    fn help_lists_rinits_actions_and_answers_topics() {
        let listing = help_text(&[]);
        assert!(listing
            .starts_with("\ndefault commands (type help <topic>):\n=====================================\n"));
        assert!(!listing.contains(" fg "), "{listing}");
        assert_eq!(help_text(&["help".into()]), HELP_HELP);
        assert_eq!(help_text(&["nope".into()]), "*** No help on nope");
        assert!(help_text(&["tail".into()]).starts_with("tail [-f] <name>"));
    }
}

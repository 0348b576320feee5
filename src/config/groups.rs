//! Process groups: `[group:x]`, homogeneous `[program:x]`, `[eventlistener:x]`
//! pools and `[fcgi-program:x]` (supervisord's `process_groups_from_parser`).

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use super::lexer::Fnv;

/// Sections a `[group:x]` took (no keyed hash: see `lexer::Fnv`).
type Taken = HashSet<String, BuildHasherDefault<Fnv>>;

use super::expand::{Fixed, Scope};
use super::load::{after_colon, fail, Loader};
use super::model::*;
use super::process::GroupOf;
use super::values;
use super::ConfigError;

/// The event type names of docs/events.md (`events=` is case-insensitive).
pub const EVENT_TYPES: &[&str] = &[
    "EVENT",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
    "PROCESS_LOG",
    "PROCESS_LOG_STDERR",
    "PROCESS_LOG_STDOUT",
    "PROCESS_STATE",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_UNKNOWN",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_3600",
    "TICK_5",
    "TICK_60",
];

type Groups = (Vec<GroupConfig>, Vec<FcgiGroupConfig>);

impl Loader<'_> {
    fn header_error(&self, section: &str, message: String) -> ConfigError {
        let mut e = fail(message, None);
        if let Some(s) = self.ini.section(section) {
            e.file = Some(s.file.to_path_buf());
            e.line = Some(s.line);
        }
        e
    }

    pub(crate) fn process_groups(&mut self) -> Result<Groups, ConfigError> {
        let sections = self.ini.section_names();
        let mut groups = Vec::new();
        let mut excluded = Taken::default();
        for section in sections.iter().filter(|s| s.starts_with("group:")) {
            groups.push(self.heterogeneous_group(section, &mut excluded)?);
        }
        for section in sections
            .iter()
            .filter(|s| s.starts_with("program:") && !excluded.contains(&***s))
        {
            let name = values::process_or_group_name(after_colon(section))
                .map_err(|m| self.header_error(section, m))?;
            let priority = self.typed(section, "priority", 999, &[&self.here_scope()], |v| {
                values::integer_in::<i32>(v, "priority")
            })?;
            let processes = self.processes_from_section(section, GroupOf::Own(&name))?;
            groups.push(GroupConfig {
                name,
                kind: GroupKind::Program,
                // Not `to_string`: for an `Rc<str>` that goes through `Display`.
                section: String::from(&**section),
                programs: None,
                priority,
                listener: None,
                processes,
            });
        }
        for section in sections.iter().filter(|s| s.starts_with("eventlistener:")) {
            groups.push(self.listener_pool(section)?);
        }
        let mut fcgi = Vec::new();
        for section in sections
            .iter()
            .filter(|s| s.starts_with("fcgi-program:") && !excluded.contains(&***s))
        {
            fcgi.push(self.fcgi_group(section)?);
        }
        groups.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.name.cmp(&b.name)));
        Ok((groups, fcgi))
    }

    fn heterogeneous_group(
        &mut self,
        section: &str,
        excluded: &mut Taken,
    ) -> Result<GroupConfig, ConfigError> {
        let name =
            values::process_or_group_name(after_colon(section)).map_err(|m| self.header_error(section, m))?;
        let here = self.here_scope();
        let here: &[&dyn Scope] = &[&here];
        let programs = self.get(section, "programs", here)?;
        let programs_at = programs.as_ref().map(|(_, v)| v.clone());
        let programs = programs
            .map(|(v, _)| values::list_of_strings(&v))
            .unwrap_or_default();
        let priority = self.typed(section, "priority", 999, here, |v| {
            values::integer_in::<i32>(v, "priority")
        })?;
        let mut processes = Vec::new();
        let mut members = Vec::new();
        // supervisord reuses its loop variable: after the first member, its
        // messages name the previous member's section instead of the group.
        let mut label = section.to_string();
        for program in &programs {
            let program_section = format!("program:{program}");
            let fcgi_section = format!("fcgi-program:{program}");
            let (has_p, has_f) = (
                self.ini.has_section(&program_section),
                self.ini.has_section(&fcgi_section),
            );
            if !has_p && !has_f {
                return Err(fail(
                    format!("[{label}] names unknown program or fcgi-program {program}"),
                    programs_at.as_ref(),
                ));
            }
            if has_p && has_f {
                return Err(fail(
                    format!("[{label}] name {program} is ambiguous (exists as program and fcgi-program)"),
                    programs_at.as_ref(),
                ));
            }
            label = if has_p { program_section } else { fcgi_section };
            excluded.insert(label.clone());
            members.push(label.clone());
            processes.extend(self.processes_from_section(&label, GroupOf::Named(&name))?);
        }
        Ok(GroupConfig {
            name,
            kind: GroupKind::Program,
            section: section.to_string(),
            programs: Some(members),
            priority,
            listener: None,
            processes,
        })
    }

    fn listener_pool(&mut self, section: &str) -> Result<GroupConfig, ConfigError> {
        let pool = after_colon(section).to_string();
        let here = self.here_scope();
        let here: &[&dyn Scope] = &[&here];
        let priority = self.typed(section, "priority", -1, here, |v| {
            values::integer_in::<i32>(v, "priority")
        })?;
        let buffer_size = self.typed(section, "buffer_size", 10, here, values::integer)?;
        if buffer_size < 1 {
            return Err(fail(
                format!("[{section}] section sets invalid buffer_size ({buffer_size})"),
                self.ini.get(section, "buffer_size"),
            ));
        }
        let buffer_size = u32::try_from(buffer_size).map_err(|_| {
            fail(
                format!("[{section}] buffer_size {buffer_size} is too large"),
                self.ini.get(section, "buffer_size"),
            )
        })?;
        let result_handler = match self.get(section, "result_handler", here)? {
            Some((v, at)) => {
                values::entry_point(&v).map_err(|m| fail(m, Some(&at)))?;
                v
            }
            None => "supervisor.dispatchers:default_handler".to_string(),
        };
        let events_at = self.ini.get(section, "events").cloned();
        let events_text = self.text(section, "events", here)?.unwrap_or_default();
        let mut events: Vec<String> = values::list_of_strings(&events_text)
            .iter()
            .map(|e| e.to_uppercase())
            .collect();
        events.sort();
        events.dedup();
        if events.is_empty() {
            return Err(self.header_error(
                section,
                format!("[{section}] section requires an \"events\" line"),
            ));
        }
        if let Some(bad) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
            return Err(fail(
                format!("Unknown event type {bad} in [{section}] events"),
                events_at.as_ref(),
            ));
        }
        if self.typed(section, "redirect_stderr", false, here, values::boolean)? {
            return Err(fail(
                format!(
                    "[{section}] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"
                ),
                self.ini.get(section, "redirect_stderr"),
            ));
        }
        let processes = self.processes_from_section(section, GroupOf::Named(&pool))?;
        Ok(GroupConfig {
            name: pool,
            kind: GroupKind::EventListener,
            section: section.to_string(),
            programs: None,
            priority,
            listener: Some(ListenerConfig {
                events,
                buffer_size,
                result_handler,
            }),
            processes,
        })
    }

    fn fcgi_group(&mut self, section: &str) -> Result<FcgiGroupConfig, ConfigError> {
        let name =
            values::process_or_group_name(after_colon(section)).map_err(|m| self.header_error(section, m))?;
        let here = self.here_scope();
        let here: &[&dyn Scope] = &[&here];
        let priority = self.typed(section, "priority", 999, here, |v| {
            values::integer_in::<i32>(v, "priority")
        })?;
        if let Some((user, at)) = self.get(section, "user", here)? {
            self.check_user(&user).map_err(|m| fail(m, Some(&at)))?;
        }
        let socket_backlog = match self.get(section, "socket_backlog", here)? {
            Some((v, at)) => {
                let n = values::integer(&v).map_err(|m| fail(m, Some(&at)))?;
                if !(1..=65535).contains(&n) {
                    return Err(fail(format!("Invalid socket_backlog value {n}"), Some(&at)));
                }
                Some(n)
            }
            None => None,
        };
        let socket_owner = self.text(section, "socket_owner", here)?;
        let socket_mode = match self.get(section, "socket_mode", here)? {
            Some((v, at)) => Some(
                values::octal(&v).map_err(|_| fail(format!("Invalid socket_mode value {v}"), Some(&at)))?,
            ),
            None => None,
        };
        let names = Fixed {
            program_name: Some(&name),
            ..self.here_scope()
        };
        let (socket, at) = match self.get(section, "socket", &[&names])? {
            Some((v, at)) if !v.is_empty() => (v, at),
            _ => {
                return Err(
                    self.header_error(section, format!("[{section}] section requires a \"socket\" line"))
                )
            }
        };
        let (socket, socket_mode) = self
            .fcgi_socket(&socket, socket_owner.is_some(), socket_mode)
            .map_err(|m| fail(format!("{m} in [{section}] socket"), Some(&at)))?;
        let processes = self.processes_from_section(section, GroupOf::Own(&name))?;
        Ok(FcgiGroupConfig {
            group: GroupConfig {
                name,
                kind: GroupKind::Program,
                section: section.to_string(),
                programs: None,
                priority,
                listener: None,
                processes,
            },
            socket,
            socket_owner,
            socket_mode,
            socket_backlog,
        })
    }

    /// `parse_fcgi_socket()`: the socket URL and its mode.
    fn fcgi_socket(
        &self,
        sock: &str,
        has_owner: bool,
        mode: Option<u32>,
    ) -> Result<(String, Option<u32>), String> {
        if let Some(path) = sock.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "('Unix socket path %s is not an absolute path', {})",
                    crate::pyrepr::repr(path)
                ));
            }
            let path = self.normalize_path(path);
            return Ok((format!("unix://{path}"), Some(mode.unwrap_or(0o700))));
        }
        if has_owner || mode.is_some() {
            return Err(
                "socket_owner and socket_mode params should only be used with a Unix domain socket".into(),
            );
        }
        let bad = || format!("('Bad socket format %s', {})", crate::pyrepr::repr(sock));
        let rest = sock.strip_prefix("tcp://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty()
            || host.contains(|c: char| c == ':' || c.is_whitespace())
            || port.is_empty()
            || !port.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let port: i64 = port.parse().map_err(|_| bad())?;
        if !(1..=65535).contains(&port) {
            return Err(format!(
                "{port} is {} bound",
                if port < 1 {
                    "below lower (1)"
                } else {
                    "above upper (65535)"
                }
            ));
        }
        Ok((format!("tcp://{}:{port}", host.to_lowercase()), None))
    }
}

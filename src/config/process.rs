//! `[program:x]`-like sections into process instances
//! (supervisord's `_processes_from_section`, in its evaluation order).

use super::expand::{Fixed, Name, Names, Scope};
use super::lexer::Value;
use super::load::{after_colon, fail, Loader};
use super::model::*;
use super::values::{self, LogName};
use super::ConfigError;

/// More instances than this is a typo, not a configuration.
const MAX_NUMPROCS: i64 = 10_000;

/// Options read once per section, before the per-instance loop.
struct Common {
    priority: i32,
    autostart: bool,
    autorestart: AutoRestart,
    startsecs: u64,
    startretries: u32,
    stopsignal: i32,
    stopwaitsecs: u64,
    stopasgroup: bool,
    killasgroup: bool,
    /// `None`: not set, supervisord's default `0`.
    exitcodes: Option<Vec<i32>>,
    redirect_stderr: bool,
    numprocs: i64,
    numprocs_start: i64,
    /// Read without expansion (`do_expand=False`): expanded per instance.
    environment: Option<Value>,
    stdout_capture_maxbytes: u64,
    stdout_events_enabled: bool,
    stderr_capture_maxbytes: u64,
    stderr_events_enabled: bool,
    serverurl: Option<String>,
    user: Option<String>,
    umask: Option<u32>,
    /// The template checked by `process_or_group_name`, and where it was
    /// set; `None`: supervisord's default, `%(program_name)s`.
    process_name: Option<(String, Value)>,
    shutdown_on: ShutdownOn,
    output_prefix: bool,
}

/// An instance's names: supervisord's own, the `ENV_*` names program
/// environments added (see `processes_inner`), and which of those the
/// current instance's environment added.
struct Instance<'a, 'f> {
    fixed: Fixed<'f>,
    names: &'a mut Names,
    program_env: &'a mut Vec<String>,
}

/// One output stream's settings of one instance.
struct Stream {
    logfile: Option<String>,
    dest: LogDest,
    backups: u32,
    maxbytes: u64,
    syslog: bool,
}

/// The group a section's processes go in.
#[derive(Clone, Copy)]
pub(crate) enum GroupOf<'a> {
    /// The section's own (`[program:x]`, `[fcgi-program:x]`): its name is
    /// the program name, which the caller has checked already
    /// (`values::process_or_group_name` of the part after the colon).
    Own(&'a str),
    /// Another one (`[group:g]`'s, an event listener pool's).
    Named(&'a str),
}

impl Loader<'_> {
    /// All instances of a section, with supervisord's
    /// ` in section '…' (file: '…')` suffix on every error.
    pub(crate) fn processes_from_section(
        &mut self,
        section: &str,
        group: GroupOf<'_>,
    ) -> Result<Vec<ProcessConfig>, ConfigError> {
        self.processes_inner(section, group)
            .map_err(|e| self.in_section(section, e))
    }

    fn processes_inner(
        &mut self,
        section: &str,
        group: GroupOf<'_>,
    ) -> Result<Vec<ProcessConfig>, ConfigError> {
        let header = self
            .ini
            .section(section)
            .map(|s| Origin {
                file: s.file.to_path_buf(),
                line: s.line,
            })
            .unwrap_or_default();
        let (group, program_name) = match group {
            GroupOf::Own(name) => (name, std::borrow::Cow::Borrowed(name)),
            GroupOf::Named(group) => (
                group,
                values::process_or_group_name(after_colon(section))
                    .map_err(|m| fail(m, None))?
                    .into(),
            ),
        };
        // Borrowed from copies, not from `self`, which `instance` mutates.
        let (here, opts) = (std::rc::Rc::clone(&self.here), self.opts);
        let fixed = Fixed {
            here: Some(&here),
            host_node_name: Some(&opts.host_node_name),
            program_name: Some(&program_name),
            group_name: Some(group),
            ..Fixed::default()
        };
        let common = self.common_options(section, &fixed)?;
        // Shares no name with `fixed`: only `ENV_*` names go in.
        let mut names = Names::new();
        let mut program_env: Vec<String> = Vec::new();
        let numprocs = common.numprocs;
        if numprocs > MAX_NUMPROCS {
            let at = self.ini.get(section, "numprocs");
            return Err(fail(
                format!("numprocs={numprocs} is more than rinit supports ({MAX_NUMPROCS})"),
                at,
            ));
        }
        // Like supervisord, the per-instance names accumulate in one map over
        // the `ENV_*` names: an instance sees the previous instance's program
        // variables, except where the process environment (re-applied at the
        // start of each instance in supervisord) has the same name.
        // At most `MAX_NUMPROCS` (checked above).
        let mut out = Vec::with_capacity(usize::try_from(numprocs).unwrap_or(0));
        // supervisord's `range(numprocs_start, numprocs + numprocs_start)`:
        // counted from 0 so that a start near i64::MAX still gives its
        // instances; one whose number would pass i64::MAX is refused.
        for offset in 0..numprocs.max(0) {
            let Some(process_num) = common.numprocs_start.checked_add(offset) else {
                return Err(fail(
                    format!(
                        "numprocs_start={} plus numprocs={numprocs} is out of range (rinit's integers are 64-bit)",
                        common.numprocs_start
                    ),
                    self.ini.get(section, "numprocs_start"),
                ));
            };
            for key in std::mem::take(&mut program_env) {
                if self.environ().lookup(&key).is_some() {
                    names.remove(&key);
                }
            }
            let scope = Instance {
                fixed: Fixed {
                    process_num: Some(process_num),
                    numprocs: Some(numprocs),
                    ..fixed
                },
                names: &mut names,
                program_env: &mut program_env,
            };
            out.push(self.instance(section, group, &header, &common, scope, process_num)?);
        }
        out.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    fn common_options(&self, section: &str, fixed: &Fixed) -> Result<Common, ConfigError> {
        let s = section;
        let names: &[&dyn Scope] = &[fixed];
        // Each default is supervisord's default text as its parser reads it
        // (`tests::typed_defaults_are_the_default_texts`).
        let priority = self.typed(s, "priority", 999, names, |v| {
            values::integer_in::<i32>(v, "priority")
        })?;
        let autostart = self.typed(s, "autostart", true, names, values::boolean)?;
        let autorestart = self.typed(
            s,
            "autorestart",
            AutoRestart::Unexpected,
            names,
            values::auto_restart,
        )?;
        let startsecs = self.typed(s, "startsecs", 1, names, |v| {
            values::integer_in::<u64>(v, "startsecs")
        })?;
        let startretries = self.typed(s, "startretries", 3, names, |v| {
            values::integer_in::<u32>(v, "startretries")
        })?;
        let stopsignal = self.typed(s, "stopsignal", libc::SIGTERM, names, values::signal_number)?;
        let stopwaitsecs = self.typed(s, "stopwaitsecs", 10, names, |v| {
            values::integer_in::<u64>(v, "stopwaitsecs")
        })?;
        let stopasgroup = self.typed(s, "stopasgroup", false, names, values::boolean)?;
        let killasgroup = self.typed(s, "killasgroup", stopasgroup, names, values::boolean)?;
        let exitcodes = self.typed(s, "exitcodes", None, names, |v| values::exit_codes(v).map(Some))?;
        let redirect_stderr = self.typed(s, "redirect_stderr", false, names, values::boolean)?;
        let numprocs = self.typed(s, "numprocs", 1, names, values::integer)?;
        let numprocs_start = self.typed(s, "numprocs_start", 0, names, values::integer)?;
        let environment = self.raw(section, "environment");
        let stdout_capture_maxbytes =
            self.typed(s, "stdout_capture_maxbytes", 0, names, values::byte_size)?;
        let stdout_events_enabled = self.typed(s, "stdout_events_enabled", false, names, values::boolean)?;
        let stderr_capture_maxbytes =
            self.typed(s, "stderr_capture_maxbytes", 0, names, values::byte_size)?;
        let stderr_events_enabled = self.typed(s, "stderr_events_enabled", false, names, values::boolean)?;
        let serverurl = self.text(s, "serverurl", names)?;
        let serverurl = serverurl.filter(|v| !super::load::strip(v).eq_ignore_ascii_case("auto"));
        let user = match self.get(s, "user", names)? {
            Some((u, at)) => {
                self.check_user(&u).map_err(|m| fail(m, Some(&at)))?;
                Some(u)
            }
            None => None,
        };
        let umask = match self.get(s, "umask", names)? {
            Some((u, at)) => Some(values::octal(&u).map_err(|m| fail(m, Some(&at)))?),
            None => None,
        };
        let process_name = match self.raw(section, "process_name") {
            Some(at) => {
                let template = values::process_or_group_name(&at.text).map_err(|m| fail(m, Some(&at)))?;
                Some((template, at))
            }
            // The default passes `process_or_group_name` as it is.
            None => None,
        };
        let template_at = process_name.as_ref().map(|(_, at)| at);
        let numbered = process_name
            .as_ref()
            .is_some_and(|(template, _)| template.contains("%(process_num)"));
        if numprocs > 1 && !numbered {
            return Err(fail(
                "%(process_num) must be present within process_name when numprocs > 1",
                template_at.or(self.ini.get(section, "numprocs")),
            ));
        }
        if stopasgroup && !killasgroup {
            return Err(fail(
                "Cannot set stopasgroup=true and killasgroup=false",
                self.ini.get(section, "killasgroup"),
            ));
        }
        let shutdown_on = self.typed(s, "shutdown_on", ShutdownOn::Never, names, values::shutdown_on)?;
        // rinit's extension (docs/output.md): `[supervisord] output_prefix`
        // is the default of every program's.
        let prefix_all = self.typed(&self.supervisord, "output_prefix", false, names, values::boolean)?;
        let output_prefix = self.typed(s, "output_prefix", prefix_all, names, values::boolean)?;
        Ok(Common {
            priority,
            autostart,
            autorestart,
            startsecs,
            startretries,
            stopsignal,
            stopwaitsecs,
            stopasgroup,
            killasgroup,
            exitcodes,
            redirect_stderr,
            numprocs,
            numprocs_start,
            environment,
            stdout_capture_maxbytes,
            stdout_events_enabled,
            stderr_capture_maxbytes,
            stderr_events_enabled,
            serverurl,
            user,
            umask,
            process_name,
            shutdown_on,
            output_prefix,
        })
    }

    /// A value read without expansion (`do_expand=False`).
    #[inline(always)]
    fn raw(&self, section: &str, key: &str) -> Option<Value> {
        if !self.ini.may_have(section, key) {
            return None;
        }
        self.raw_set(section, key)
    }

    fn raw_set(&self, section: &str, key: &str) -> Option<Value> {
        self.ini.get(section, key).cloned()
    }

    fn instance(
        &mut self,
        section: &str,
        group: &str,
        header: &Origin,
        c: &Common,
        scope: Instance,
        process_num: i64,
    ) -> Result<ProcessConfig, ConfigError> {
        let Instance {
            fixed,
            names,
            program_env,
        } = scope;
        // No `environment` (most programs): nothing to expand or parse.
        let environment = match &c.environment {
            Some(at) if !at.text.is_empty() => {
                let env_text = self
                    .expand(&at.text, &[&*names, &fixed], || "environment".into())
                    .map_err(|m| fail(m, Some(at)))?;
                values::environment(&env_text).map_err(|m| fail(m, Some(at)))?
            }
            _ => Vec::new(),
        };
        for (k, v) in &environment {
            let key = format!("ENV_{k}");
            names.insert(key.clone(), Name::Str(v.clone()));
            program_env.push(key);
        }
        let names: &[&dyn Scope] = &[&*names, &fixed];
        let directory = self.text(section, "directory", names)?;
        let stdout = self.stream(section, false, names)?;
        let mut stderr = self.stream(section, true, names)?;
        if c.redirect_stderr {
            if stderr.logfile.is_some() && stderr.logfile.as_deref() != Some("AUTO") {
                self.warnings.push(format!(
                    "For [{section}], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored"
                ));
            }
            stderr.logfile = None;
            stderr.dest = match &stdout.dest {
                LogDest::Inherit => LogDest::RinitStdout,
                other => other.clone(),
            };
        }
        let Some(command) = self.text(section, "command", names)? else {
            return Err(fail(
                format!("program section {section} does not specify a command"),
                None,
            ));
        };
        let name = match (&c.process_name, fixed.program_name) {
            // The default `%(program_name)s` expands to the name itself.
            (None, Some(program_name)) => program_name.to_string(),
            (Some((template, at)), _) => self
                .expand(template, names, || "process_name".into())
                .map_err(|m| fail(m, Some(at)))?,
            (None, None) => self
                .expand("%(program_name)s", names, || "process_name".into())
                .map_err(|m| fail(m, None))?,
        };
        let to_u32 = |n: i64, key: &str| {
            u32::try_from(n).map_err(|_| {
                fail(
                    format!("invalid value for {key}: {n} is out of range"),
                    self.ini.get(section, key),
                )
            })
        };
        Ok(ProcessConfig {
            name,
            group: group.to_string(),
            section: section.to_string(),
            origin: header.clone(),
            command,
            numprocs: to_u32(c.numprocs, "numprocs")?,
            numprocs_start: c.numprocs_start,
            process_num,
            priority: c.priority,
            autostart: c.autostart,
            startsecs: c.startsecs,
            startretries: c.startretries,
            autorestart: c.autorestart,
            exitcodes: c.exitcodes.clone().unwrap_or_else(|| vec![0]),
            stopsignal: c.stopsignal,
            stopwaitsecs: c.stopwaitsecs,
            stopasgroup: c.stopasgroup,
            killasgroup: c.killasgroup,
            user: c.user.clone(),
            directory,
            umask: c.umask,
            redirect_stderr: c.redirect_stderr,
            stdout_logfile: stdout.logfile,
            stderr_logfile: stderr.logfile,
            stdout: stdout.dest,
            stderr: stderr.dest,
            stdout_logfile_maxbytes: stdout.maxbytes,
            stdout_logfile_backups: stdout.backups,
            stdout_capture_maxbytes: c.stdout_capture_maxbytes,
            stdout_events_enabled: c.stdout_events_enabled,
            stdout_syslog: stdout.syslog,
            stderr_logfile_maxbytes: stderr.maxbytes,
            stderr_logfile_backups: stderr.backups,
            stderr_capture_maxbytes: c.stderr_capture_maxbytes,
            stderr_events_enabled: c.stderr_events_enabled,
            stderr_syslog: stderr.syslog,
            environment,
            serverurl: c.serverurl.clone(),
            shutdown_on: c.shutdown_on,
            output_prefix: c.output_prefix,
        })
    }

    /// A program log file whose directory is missing: supervisord refuses
    /// the file; rinit runs the program with that output on its own
    /// stdout/stderr until the directory exists (docs/output.md) and notes it
    /// for `rinit check`, once per key even with `numprocs`. Returns the path.
    fn missing_log_dir(&mut self, section: &str, e: ConfigError, path: &str) -> String {
        let mut e = self.in_section(section, e);
        e.message = format!(
            "warning: {} (supervisord refuses this file; rinit runs the program with that output on \
             its own stdout/stderr until the directory exists)",
            e.message
        );
        let note = e.to_string();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
        self.expanduser(path)
    }

    /// `{k}_logfile` (expanded twice), `_backups`, `_maxbytes`, `_syslog`,
    /// and supervisord's warnings about them.
    /// `stderr`: stderr's keys, else stdout's.
    fn stream(&mut self, section: &str, stderr: bool, names: &[&dyn Scope]) -> Result<Stream, ConfigError> {
        // The key names, spelled out rather than formatted for every instance.
        let (lf_key, backups_key, maxbytes_key, sy_key) = if !stderr {
            (
                "stdout_logfile",
                "stdout_logfile_backups",
                "stdout_logfile_maxbytes",
                "stdout_syslog",
            )
        } else {
            (
                "stderr_logfile",
                "stderr_logfile_backups",
                "stderr_logfile_maxbytes",
                "stderr_syslog",
            )
        };
        let name = match self.get(section, lf_key, names)? {
            Some((once, at)) => {
                let twice = self
                    .expand(&once, names, || lf_key.into())
                    .map_err(|m| fail(m, Some(&at)))?;
                match values::log_name(&twice) {
                    LogName::Path(p) => LogName::Path(match self.existing_dirpath(&p) {
                        Ok(nv) => nv,
                        Err(m) if self.opts.refuse_missing_log_dirs => return Err(fail(m, Some(&at))),
                        Err(m) => self.missing_log_dir(section, fail(m, Some(&at)), &p),
                    }),
                    other => other,
                }
            }
            None => LogName::Auto,
        };
        let backups = self.typed(section, backups_key, 10, names, |v| {
            values::integer_in::<u32>(v, "logfile_backups")
        })?;
        let maxbytes = self.typed(section, maxbytes_key, 50 << 20, names, values::byte_size)?;
        let mut syslog = self.typed(section, sy_key, false, names, values::boolean)?;
        if name == LogName::Syslog {
            self.warnings.push(format!(
                "For [{section}], {lf_key}=syslog but this is deprecated and will be removed.  Use {sy_key}=true to enable syslog instead."
            ));
            syslog = true;
        }
        if name == LogName::Auto && maxbytes == 0 {
            self.warnings.push(format!(
                "For [{section}], AUTO logging used for {lf_key} without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally"
            ));
        }
        let (logfile, dest) = match name {
            LogName::Auto => (Some("AUTO".to_string()), LogDest::Inherit),
            LogName::None | LogName::Syslog => (None, LogDest::Null),
            LogName::Path(p) => {
                let dest = match p.as_str() {
                    "/dev/stdout" => LogDest::RinitStdout,
                    "/dev/stderr" => LogDest::RinitStderr,
                    _ => LogDest::File(p.clone().into()),
                };
                (Some(p), dest)
            }
        };
        Ok(Stream {
            logfile,
            dest,
            backups,
            maxbytes,
            syslog,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed defaults in `common_options` and `stream` are supervisord's
    /// default texts as rinit's parsers read them.
    #[test]
    fn typed_defaults_are_the_default_texts() {
        assert_eq!(values::integer_in::<i32>("999", "priority"), Ok(999));
        assert_eq!(values::integer_in::<i32>("-1", "priority"), Ok(-1));
        assert_eq!(values::boolean("true"), Ok(true));
        assert_eq!(values::boolean("false"), Ok(false));
        assert_eq!(values::auto_restart("unexpected"), Ok(AutoRestart::Unexpected));
        assert_eq!(values::integer_in::<u64>("1", "startsecs"), Ok(1));
        assert_eq!(values::integer_in::<u32>("3", "startretries"), Ok(3));
        assert_eq!(values::signal_number("TERM"), Ok(libc::SIGTERM));
        assert_eq!(values::integer_in::<u64>("10", "stopwaitsecs"), Ok(10));
        assert_eq!(values::exit_codes("0"), Ok(vec![0]));
        assert_eq!(values::integer("1"), Ok(1));
        assert_eq!(values::integer("0"), Ok(0));
        assert_eq!(values::integer("10"), Ok(10));
        assert_eq!(values::byte_size("0"), Ok(0));
        assert_eq!(values::byte_size("50MB"), Ok(50 << 20));
        assert_eq!(values::integer_in::<u32>("10", "logfile_backups"), Ok(10));
        assert_eq!(values::shutdown_on("never"), Ok(ShutdownOn::Never));
        assert_eq!(values::integer_in::<u64>("1024", "minfds"), Ok(1024));
        assert_eq!(values::integer_in::<u64>("200", "minprocs"), Ok(200));
        assert_eq!(values::octal("022"), Ok(0o022));
        assert_eq!(values::logging_level("info"), Ok("info".to_string()));
    }
}

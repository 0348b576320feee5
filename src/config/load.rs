//! From files to `model::Config`, step for step as supervisord's
//! `ServerOptions.read_config` + `realize` do it, so that errors come in the
//! same order with the same texts.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::expand::{expand_named, Env, Fixed, Scope};
use super::lexer::{py_strip, Fnv, Ini, Value};
use super::model::*;
use super::paths;
use super::values;
use super::{ConfigError, LoadOptions};
use crate::pyrepr::repr;
use crate::users::{Passwd, UserError};

/// What to read as the main configuration.
#[derive(Debug, Clone)]
pub enum MainSource {
    /// A supervisord.conf given with `-c` (or found by `locate`).
    File(PathBuf),
    /// A conf.d piece, read as the oracle does: included by a minimal main
    /// file (`[supervisord]` + `[include] files = PIECE`).
    Fragment(PathBuf),
}

/// The result plus supervisord's parse messages, which exist even when the
/// configuration is refused (the oracle reports both).
pub struct Outcome {
    pub result: Result<Config, ConfigError>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// rinit's `FILE:LINE: warning: …` about what it accepts and supervisord
    /// refuses (a missing program log directory), for `rinit check`.
    pub notes: Vec<String>,
}

/// Read, expand, type and validate a configuration.
pub fn realize(source: &MainSource, opts: &LoadOptions) -> Outcome {
    let mut loader = Loader::new(opts);
    let result = loader.run(source);
    Outcome {
        result,
        warnings: loader.warnings,
        infos: loader.infos,
        notes: loader.notes,
    }
}

pub(crate) struct Loader<'a> {
    pub(crate) opts: &'a LoadOptions,
    pub(crate) ini: Ini,
    /// The main file as given: supervisord names it in section errors.
    pub(crate) configfile: String,
    /// `%(here)s` of the main file (shared: a section's names borrow it
    /// while the loader is borrowed mutably).
    pub(crate) here: Rc<str>,
    /// `[supervisord]`'s own name (see `Ini::section`), once it is known
    /// to exist.
    pub(crate) supervisord: Rc<str>,
    /// `[supervisord] environment`, whose keys become `ENV_*` names over
    /// the process environment's (see `environ`).
    pub(crate) env_overrides: Vec<(String, String)>,
    pub(crate) section_to_file: HashMap<String, String, BuildHasherDefault<Fnv>>,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
    pub(crate) notes: Vec<String>,
    passwd: OnceCell<Result<Passwd, UserError>>,
}

/// Where an error points: the offending value, else nothing.
pub(crate) fn fail(message: impl Into<String>, at: Option<&Value>) -> ConfigError {
    ConfigError {
        message: message.into(),
        file: at.map(|v| v.file.to_path_buf()),
        line: at.map(|v| v.line),
    }
}

impl<'a> Loader<'a> {
    fn new(opts: &'a LoadOptions) -> Self {
        // Placeholders until the main file is read: one allocation for both.
        let empty: Rc<str> = Rc::from("");
        Loader {
            opts,
            ini: Ini::default(),
            configfile: String::new(),
            here: Rc::clone(&empty),
            supervisord: empty,
            env_overrides: Vec::new(),
            section_to_file: HashMap::default(),
            warnings: Vec::new(),
            infos: Vec::new(),
            notes: Vec::new(),
            passwd: OnceCell::new(),
        }
    }

    pub(crate) fn home(&self) -> Option<&str> {
        self.opts.env.get("HOME")
    }

    /// `ENV_*` names: the process environment, then `[supervisord] environment`.
    pub(crate) fn environ(&self) -> Env<'_> {
        Env {
            host: &self.opts.env,
            overrides: &self.env_overrides,
        }
    }

    /// `here` alone, what most sections expand with.
    pub(crate) fn here_scope(&self) -> Fixed<'_> {
        Fixed {
            here: Some(&self.here),
            ..Fixed::default()
        }
    }

    /// `here` and `host_node_name`.
    pub(crate) fn host_scope(&self) -> Fixed<'_> {
        Fixed {
            here: Some(&self.here),
            host_node_name: Some(&self.opts.host_node_name),
            ..Fixed::default()
        }
    }

    /// supervisord's `expand(text, names)` with `names` = the `extra`
    /// layers over the `ENV_*` names; `what` names the value in errors.
    pub(crate) fn expand(
        &self,
        text: &str,
        extra: &[&dyn Scope],
        what: impl FnOnce() -> String,
    ) -> Result<String, String> {
        let env = self.environ();
        match extra {
            [] => expand_named(text, &[&env], what),
            [a] => expand_named(text, &[*a, &env], what),
            [a, b] => expand_named(text, &[*a, *b, &env], what),
            _ => {
                let mut layers: Vec<&dyn Scope> = extra.to_vec();
                layers.push(&env);
                expand_named(text, &layers, what)
            }
        }
    }

    fn run(&mut self, source: &MainSource) -> Result<Config, ConfigError> {
        self.read_main(source)?;
        self.read_includes()?;
        let Some(supervisord) = self.ini.section("supervisord") else {
            return Err(fail(".ini file does not include supervisord section", None));
        };
        self.supervisord = Rc::clone(&supervisord.name);
        let mut supervisord = self.supervisord_section()?;
        let rpcinterfaces = self.rpcinterfaces()?;
        let (mut groups, mut fcgi_groups) = self.process_groups()?;
        let global_env = supervisord.environment.clone().unwrap_or_default();
        for group in groups
            .iter_mut()
            .chain(fcgi_groups.iter_mut().map(|f| &mut f.group))
        {
            for p in group.processes.iter_mut() {
                p.environment = merge_env(&global_env, &p.environment);
            }
        }
        let servers = self.servers()?;
        self.realize_supervisord(&mut supervisord)?;
        let serverurl = fallback_serverurl(&servers);
        let lint = super::lint::unknown_keys(&self.ini);
        Ok(Config {
            main_file: PathBuf::from(&self.configfile),
            supervisord,
            groups,
            servers,
            serverurl,
            rpcinterfaces,
            warnings: self.warnings.clone(),
            infos: self.infos.clone(),
            lint,
            fcgi_groups,
        })
    }

    fn read_main(&mut self, source: &MainSource) -> Result<(), ConfigError> {
        match source {
            MainSource::File(path) => {
                let shown = match path.to_str() {
                    Some(s) => s.to_owned(),
                    None => path.to_string_lossy().into_owned(),
                };
                // Whether the file exists only matters for the message when
                // it cannot be read.
                let Some(text) = read_text(path, &shown)? else {
                    let why = if path.exists() { "read" } else { "find" };
                    return Err(fail(format!("could not {why} config file {shown}"), None));
                };
                let abs = paths::abspath(&shown);
                let here = paths::dirname_str(&abs);
                self.here = Rc::from(if here.is_empty() { "/" } else { here });
                self.configfile = shown;
                self.parse_into(&text, path)
            }
            MainSource::Fragment(piece) => {
                let dir = std::env::temp_dir().join("rinit-fragment-main");
                let main = dir.join("supervisord.conf");
                self.configfile = main.to_string_lossy().into_owned();
                self.here = Rc::from(dir.to_string_lossy().as_ref());
                let text = format!(
                    "[supervisord]\n\n[include]\nfiles = {}\n",
                    piece.to_string_lossy()
                );
                self.parse_into(&text, &main)
            }
        }
    }

    fn parse_into(&mut self, text: &str, source: &Path) -> Result<(), ConfigError> {
        self.ini.read(text, source).map_err(|e| ConfigError {
            message: e.message,
            file: Some(e.file),
            line: Some(e.line),
        })
    }

    /// `[include] files=`: whitespace-separated globs relative to the main
    /// file's directory, each pattern's matches read in sorted order.
    fn read_includes(&mut self) -> Result<(), ConfigError> {
        if !self.ini.has_section("include") {
            return Ok(());
        }
        let here = self.here.to_string();
        self.ini.expand_here(&here);
        let Some(value) = self.ini.get("include", "files").cloned() else {
            return Err(fail(
                ".ini file has [include] section, but no files setting",
                None,
            ));
        };
        let files = self
            .expand(&value.text, &[&self.host_scope()], || "include.files".into())
            .map_err(|m| fail(m, Some(&value)))?;
        for pattern in files.split(super::lexer::py_isspace).filter(|p| !p.is_empty()) {
            let pattern = paths::join(&here, pattern);
            let mut matches = paths::glob(&pattern);
            if matches.is_empty() {
                self.warnings
                    .push(format!("No file matches via include \"{pattern}\""));
                continue;
            }
            matches.sort();
            for filename in matches {
                self.infos
                    .push(format!("Included extra file \"{filename}\" during parsing"));
                self.read_included(&filename, &value)?;
                let dir = paths::dirname(&paths::abspath(&filename));
                self.ini.expand_here(&dir);
            }
        }
        Ok(())
    }

    /// `parser.read(filename)`: an unreadable file (or a directory) is
    /// skipped silently, as supervisord does. Anything else that is not a
    /// regular file is refused at the `files=` line: supervisord would read
    /// `/dev/zero` until memory runs out and wait forever on a FIFO
    /// (docs/config.md, "Includes").
    fn read_included(&mut self, filename: &str, at: &Value) -> Result<(), ConfigError> {
        let path = PathBuf::from(filename);
        let text = match open_regular(&path) {
            Opened::File(file) => read_utf8(file, &path, filename)?,
            Opened::Skip => None,
            Opened::NotRegular(kind) => {
                return Err(fail(
                    format!("included file {filename} is {kind}, not a regular file"),
                    Some(at),
                ))
            }
        };
        let Some(text) = text else {
            return Ok(());
        };
        // Sections are only ever appended: the new ones are those past `before`.
        let before = self.ini.sections.len();
        self.parse_into(&text, &path)?;
        for section in self.ini.sections.iter().skip(before) {
            self.section_to_file
                .insert(section.name.to_string(), filename.to_string());
        }
        Ok(())
    }

    /// `parser.saneget(section, key)`: the expanded value and where it was.
    /// Most keys asked for are not set: that answer is inline (see
    /// `Ini::may_have`), the rest out of line.
    #[inline(always)]
    pub(crate) fn get(
        &self,
        section: &str,
        key: &str,
        extra: &[&dyn Scope],
    ) -> Result<Option<(String, Value)>, ConfigError> {
        if !self.ini.may_have(section, key) {
            return Ok(None);
        }
        self.get_owned(section, key, extra)
    }

    /// `get` without where the value was.
    #[inline(always)]
    pub(crate) fn text(
        &self,
        section: &str,
        key: &str,
        extra: &[&dyn Scope],
    ) -> Result<Option<String>, ConfigError> {
        if !self.ini.may_have(section, key) {
            return Ok(None);
        }
        self.text_owned(section, key, extra)
    }

    fn text_owned(
        &self,
        section: &str,
        key: &str,
        extra: &[&dyn Scope],
    ) -> Result<Option<String>, ConfigError> {
        Ok(self
            .get_ref(section, key, extra)?
            .map(|(text, _)| text.into_owned()))
    }

    fn get_owned(
        &self,
        section: &str,
        key: &str,
        extra: &[&dyn Scope],
    ) -> Result<Option<(String, Value)>, ConfigError> {
        Ok(self
            .get_ref(section, key, extra)?
            .map(|(text, value)| (text.into_owned(), value.clone())))
    }

    /// `get` without copying where the value was (most values are fine).
    pub(crate) fn get_ref(
        &self,
        section: &str,
        key: &str,
        extra: &[&dyn Scope],
    ) -> Result<Option<(Cow<'_, str>, &Value)>, ConfigError> {
        let Some(value) = self.ini.get(section, key) else {
            return Ok(None);
        };
        let text: &str = &value.text;
        // Python's `text % names` leaves a string without `%` unchanged, and
        // most values have none.
        if !text.contains('%') {
            return Ok(Some((Cow::Borrowed(text), value)));
        }
        // `saneget`'s names: the caller's over `ENV_*`.
        let text = self
            .expand(text, extra, || format!("{section}.{key}"))
            .map_err(|m| fail(m, Some(value)))?;
        Ok(Some((Cow::Owned(text), value)))
    }

    /// A typed option, the error pointing at the value; `default` is what
    /// `parse` gives for supervisord's default text, so that a missing key
    /// (most keys of most sections) costs no parsing, and no call.
    #[inline(always)]
    pub(crate) fn typed<T>(
        &self,
        section: &str,
        key: &str,
        default: T,
        extra: &[&dyn Scope],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        if !self.ini.may_have(section, key) {
            return Ok(default);
        }
        self.typed_set(section, key, default, extra, parse)
    }

    fn typed_set<T>(
        &self,
        section: &str,
        key: &str,
        default: T,
        extra: &[&dyn Scope],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get_ref(section, key, extra)? {
            Some((text, value)) => parse(&text).map_err(|m| fail(m, Some(value))),
            None => Ok(default),
        }
    }

    /// `typed` for a default that depends on the host (a path that must
    /// exist): the default text goes through `parse` too. `default` is made
    /// only when the key is not set.
    pub(crate) fn typed_text<'d, T>(
        &self,
        section: &str,
        key: &str,
        default: impl FnOnce() -> Cow<'d, str>,
        extra: &[&dyn Scope],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let found = if self.ini.may_have(section, key) {
            self.get_ref(section, key, extra)?
        } else {
            None
        };
        match found {
            Some((text, value)) => parse(&text).map_err(|m| fail(m, Some(value))),
            None => parse(&default()).map_err(|m| fail(m, None)),
        }
    }

    /// `existing_dirpath()`: the parent directory must exist (host checks).
    pub(crate) fn existing_dirpath(&self, v: &str) -> Result<String, String> {
        let nv = self.expanduser(v);
        let dir = paths::dirname_str(&nv);
        if dir.is_empty() || !self.opts.host_checks || paths::is_dir(dir) {
            return Ok(nv);
        }
        Err(format!(
            "The directory named as part of the path {v} does not exist"
        ))
    }

    /// `existing_directory()`.
    pub(crate) fn existing_directory(&self, v: &str) -> Result<String, String> {
        let nv = self.expanduser(v);
        if !self.opts.host_checks || paths::is_dir(&nv) {
            return Ok(nv);
        }
        Err(format!("{v} is not an existing directory"))
    }

    /// `os.path.expanduser(v)`: `$HOME` is looked up only for a `~`.
    pub(crate) fn expanduser(&self, v: &str) -> String {
        if v.starts_with('~') {
            paths::expanduser(v, self.home())
        } else {
            v.to_string()
        }
    }

    /// `normalize_path()`: `normpath(abspath(expanduser(v)))`.
    pub(crate) fn normalize_path(&self, v: &str) -> String {
        let nv = self.expanduser(v);
        if paths::is_normal_absolute(&nv) {
            nv
        } else {
            paths::abspath(&nv)
        }
    }

    pub(crate) fn check_user(&self, user: &str) -> Result<(), String> {
        if self.opts.host_checks {
            paths::check_user(self.passwd(), user)
        } else {
            Ok(())
        }
    }

    /// The passwd file, read at the first lookup and kept for the others.
    pub(crate) fn passwd(&self) -> &Result<Passwd, UserError> {
        self.passwd.get_or_init(Passwd::system)
    }

    fn supervisord_section(&mut self) -> Result<SupervisordConfig, ConfigError> {
        let here = self.here_scope();
        let here: &[&dyn Scope] = &[&here];
        let s = &*Rc::clone(&self.supervisord);
        let minfds = self.typed(s, "minfds", 1024, here, |v| {
            values::integer_in::<u64>(v, "minfds")
        })?;
        let minprocs = self.typed(s, "minprocs", 200, here, |v| {
            values::integer_in::<u64>(v, "minprocs")
        })?;
        let directory = match self.get(s, "directory", here)? {
            Some((v, at)) => Some(self.existing_directory(&v).map_err(|m| fail(m, Some(&at)))?),
            None => None,
        };
        let user = self.text(s, "user", here)?;
        let umask = self.typed(s, "umask", 0o022, here, values::octal)?;
        let logfile = self.typed_text(
            s,
            "logfile",
            || "supervisord.log".into(),
            here,
            |v| self.existing_dirpath(v),
        )?;
        let logfile_maxbytes = self.typed(s, "logfile_maxbytes", 50 << 20, here, values::byte_size)?;
        let logfile_backups = self.typed(s, "logfile_backups", 10, here, |v| {
            values::integer_in::<u32>(v, "logfile_backups")
        })?;
        let loglevel = self.typed(s, "loglevel", "info".into(), here, values::logging_level)?;
        let pidfile = self.typed_text(
            s,
            "pidfile",
            || "supervisord.pid".into(),
            here,
            |v| self.existing_dirpath(v),
        )?;
        let identifier = self
            .text(s, "identifier", here)?
            .unwrap_or_else(|| "supervisor".into());
        let nodaemon = self.typed(s, "nodaemon", false, here, values::boolean)?;
        let silent = self.typed(s, "silent", false, here, values::boolean)?;
        let childlogdir = self.typed_text(
            s,
            "childlogdir",
            || self.tempdir().into(),
            here,
            |v| self.existing_directory(v),
        )?;
        let nocleanup = self.typed(s, "nocleanup", false, here, values::boolean)?;
        let strip_ansi = self.typed(s, "strip_ansi", false, here, values::boolean)?;
        let environment = self.supervisord_environment()?;
        Ok(SupervisordConfig {
            nodaemon,
            silent,
            logfile,
            logfile_maxbytes,
            logfile_backups,
            loglevel,
            pidfile,
            user,
            directory,
            umask,
            minfds,
            minprocs,
            nocleanup,
            strip_ansi,
            identifier,
            childlogdir,
            environment: if environment.is_empty() {
                None
            } else {
                Some(environment)
            },
        })
    }

    /// `tempfile.gettempdir()` as the oracle's environment sees it.
    fn tempdir(&self) -> String {
        ["TMPDIR", "TEMP", "TMP"]
            .iter()
            .find_map(|k| self.opts.env.get(k).filter(|v| !v.is_empty()).map(str::to_string))
            .unwrap_or_else(|| "/tmp".into())
    }

    /// `[supervisord] environment`: expanded twice (the second time with
    /// `host_node_name`), then its keys become `ENV_*` names for later sections.
    fn supervisord_environment(&mut self) -> Result<Vec<(String, String)>, ConfigError> {
        let (text, at) = match self.get(&self.supervisord, "environment", &[&self.here_scope()])? {
            Some((t, v)) => (t, Some(v)),
            None => return Ok(Vec::new()),
        };
        let text = self
            .expand(&text, &[&self.host_scope()], || "environment".into())
            .map_err(|m| fail(m, at.as_ref()))?;
        let env = values::environment(&text).map_err(|m| fail(m, at.as_ref()))?;
        self.env_overrides = env.clone();
        Ok(env)
    }

    fn rpcinterfaces(&self) -> Result<Vec<RpcInterfaceConfig>, ConfigError> {
        const FACTORY: &str = "supervisor.rpcinterface_factory";
        let mut out = Vec::new();
        for section in self.ini.section_names() {
            let Some(name) = section.strip_prefix("rpcinterface:") else {
                continue;
            };
            let Some((factory, at)) = self.get(&section, FACTORY, &[])? else {
                return Err(fail(
                    format!("section [{section}] does not specify a {FACTORY}"),
                    None,
                ));
            };
            values::entry_point(&factory).map_err(|m| fail(m, Some(&at)))?;
            let mut extras = Vec::new();
            for key in self.ini.options(&section) {
                if key != FACTORY {
                    if let Some((v, _)) = self.get(&section, &key, &[])? {
                        extras.push((key, v));
                    }
                }
            }
            out.push(RpcInterfaceConfig {
                name: name.to_string(),
                factory,
                extras,
            });
        }
        Ok(out)
    }

    /// The part of `ServerOptions.realize` after reading: the supervisord
    /// user must exist, logfile/pidfile become absolute normalized paths.
    fn realize_supervisord(&self, s: &mut SupervisordConfig) -> Result<(), ConfigError> {
        if let Some(user) = &s.user {
            let at = self.ini.get(&self.supervisord, "user");
            self.check_user(user).map_err(|m| fail(m, at))?;
        }
        if s.logfile != "syslog" {
            s.logfile = self.normalize_path(&s.logfile);
        }
        s.pidfile = self.normalize_path(&s.pidfile);
        Ok(())
    }

    pub(crate) fn section_file(&self, section: &str) -> String {
        self.section_to_file
            .get(section)
            .cloned()
            .unwrap_or_else(|| self.configfile.clone())
    }

    /// supervisord's suffix for errors inside a program-like section.
    pub(crate) fn in_section(&self, section: &str, mut e: ConfigError) -> ConfigError {
        e.message = format!(
            "{} in section {} (file: {})",
            e.message,
            repr(section),
            repr(&self.section_file(section))
        );
        if e.file.is_none() {
            if let Some(s) = self.ini.section(section) {
                e.file = Some(s.file.to_path_buf());
                e.line = Some(s.line);
            }
        }
        e
    }
}

/// What opening an included file found.
enum Opened {
    File(std::fs::File),
    /// Could not be opened, or a directory: `parser.read` skips it.
    Skip,
    /// A device, FIFO or socket, named for the message.
    NotRegular(&'static str),
}

/// Open without blocking (a FIFO would wait for a writer), then look at
/// what was opened, so the check and the read are about the same file.
fn open_regular(path: &Path) -> Opened {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    else {
        return Opened::Skip;
    };
    let Ok(meta) = file.metadata() else {
        return Opened::Skip;
    };
    let t = meta.file_type();
    if t.is_file() {
        Opened::File(file)
    } else if t.is_dir() {
        Opened::Skip
    } else if t.is_fifo() {
        Opened::NotRegular("a FIFO")
    } else if t.is_char_device() {
        Opened::NotRegular("a character device")
    } else if t.is_block_device() {
        Opened::NotRegular("a block device")
    } else if t.is_socket() {
        Opened::NotRegular("a socket")
    } else {
        Opened::NotRegular("not a file")
    }
}

/// Read a file as UTF-8 text. `Ok(None)`: could not be opened.
fn read_text(path: &Path, shown: &str) -> Result<Option<String>, ConfigError> {
    match std::fs::File::open(path) {
        Ok(file) => read_utf8(file, path, shown),
        Err(_) => Ok(None),
    }
}

/// The whole of an opened file as UTF-8 text. `Ok(None)`: a read error.
fn read_utf8(mut file: std::fs::File, path: &Path, shown: &str) -> Result<Option<String>, ConfigError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return Ok(None);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = e
                .as_bytes()
                .get(..valid)
                .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
                + 1;
            Err(ConfigError {
                message: format!("{shown} is not a UTF-8 text file (invalid byte at offset {valid})"),
                file: Some(path.to_path_buf()),
                line: Some(line),
            })
        }
    }
}

/// `[supervisord] environment` under the program's, the program winning.
fn merge_env(global: &[(String, String)], own: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = global.to_vec();
    for (k, v) in own {
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// The URL children get: the first unix server, else the last inet server.
fn fallback_serverurl(servers: &[ServerConfig]) -> Option<String> {
    if let Some(unix) = servers.iter().find(|s| s.kind == "unix_http_server") {
        return unix.file.as_ref().map(|f| format!("unix://{f}"));
    }
    servers.iter().rfind(|s| s.kind == "inet_http_server").map(|s| {
        let host = s
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("http://{}:{}", host, s.port.clone().unwrap_or_default())
    })
}

/// The part after the first `:` of a section name.
pub(crate) fn after_colon(section: &str) -> &str {
    // `:` is ASCII: the byte after it starts a character.
    match section.bytes().position(|b| b == b':') {
        Some(i) => section.get(i + 1..).unwrap_or(""),
        None => "",
    }
}

pub(crate) fn strip(s: &str) -> &str {
    py_strip(s)
}

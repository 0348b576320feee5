//! The resolved configuration: what the runtime and `rinit dump` consume.
//!
//! Everything here is already expanded (`%(…)s`), typed and validated; the
//! runtime never looks at raw INI text. Field names follow supervisord's keys
//! so that the mapping to the oracle JSON (`dump.rs`) stays obvious.

use std::path::PathBuf;

/// Where a value came from, for messages of the form `FILE:LINE: message`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

/// `autorestart=`: only applies to exits from RUNNING (docs/state-machine.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    False,
    Unexpected,
    True,
}

/// rinit's `shutdown_on=` extension (docs/design.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShutdownOn {
    #[default]
    Never,
    Fatal,
    Unexpected,
    Any,
}

/// Where one output stream of a program goes (docs/design.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    /// Unset or `AUTO`: rinit's own fd 1 (stdout stream) or fd 2 (stderr stream).
    Inherit,
    /// `/dev/stdout`: rinit's fd 1 directly.
    RinitStdout,
    /// `/dev/stderr`: rinit's fd 2 directly.
    RinitStderr,
    /// `NONE`/`OFF` (and `syslog`, which rinit does not implement): `/dev/null`.
    Null,
    /// A file, opened for append.
    File(PathBuf),
}

/// `[program:x]` / `[eventlistener:x]` realized into one process instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// Process name after `process_name` expansion; what every log line shows.
    pub name: String,
    /// Group it belongs to (`[group:g]` name, or the program name).
    pub group: String,
    /// Section that made it, e.g. `program:web`.
    pub section: String,
    pub origin: Origin,
    pub command: String,
    pub numprocs: u32,
    /// Any i64, as supervisord takes any int (issue 9 item 6).
    pub numprocs_start: i64,
    pub process_num: i64,
    pub priority: i32,
    pub autostart: bool,
    pub startsecs: u64,
    pub startretries: u32,
    pub autorestart: AutoRestart,
    pub exitcodes: Vec<i32>,
    /// Signal number (Linux numbering).
    pub stopsignal: i32,
    pub stopwaitsecs: u64,
    pub stopasgroup: bool,
    pub killasgroup: bool,
    pub user: Option<String>,
    pub directory: Option<String>,
    pub umask: Option<u32>,
    pub redirect_stderr: bool,
    /// The configured `stdout_logfile` as the oracle reports it (path, "AUTO", or None).
    pub stdout_logfile: Option<String>,
    pub stderr_logfile: Option<String>,
    pub stdout: LogDest,
    pub stderr: LogDest,
    pub stdout_logfile_maxbytes: u64,
    pub stdout_logfile_backups: u32,
    pub stdout_capture_maxbytes: u64,
    pub stdout_events_enabled: bool,
    pub stdout_syslog: bool,
    pub stderr_logfile_maxbytes: u64,
    pub stderr_logfile_backups: u32,
    pub stderr_capture_maxbytes: u64,
    pub stderr_events_enabled: bool,
    pub stderr_syslog: bool,
    /// Merged `[supervisord] environment` + program `environment`, in order;
    /// added on top of rinit's own environment at spawn.
    pub environment: Vec<(String, String)>,
    pub serverurl: Option<String>,
    pub shutdown_on: ShutdownOn,
    /// rinit's `output_prefix=` extension (docs/output.md): each line this
    /// process writes to rinit's stdout/stderr starts with its name.
    pub output_prefix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Program,
    EventListener,
}

/// Event-listener pool settings (`[eventlistener:x]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerConfig {
    pub events: Vec<String>,
    pub buffer_size: u32,
    pub result_handler: String,
}

/// A process group: a program's instances, a `[group:x]`, or a listener pool.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    pub name: String,
    pub kind: GroupKind,
    /// `program:x`, `group:x` or `eventlistener:x`.
    pub section: String,
    /// `[group:x]` only: the `programs=` list in order.
    pub programs: Option<Vec<String>>,
    pub priority: i32,
    pub listener: Option<ListenerConfig>,
    /// supervisord's order: priority, then name (or `programs=` order for `[group:x]`).
    pub processes: Vec<ProcessConfig>,
}

/// `[supervisord]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisordConfig {
    pub nodaemon: bool,
    pub silent: bool,
    /// Absolute path, or `syslog`.
    pub logfile: String,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    /// One of critical/error/warn/info/debug/trace/blather.
    pub loglevel: String,
    pub pidfile: String,
    pub user: Option<String>,
    pub directory: Option<String>,
    pub umask: u32,
    pub minfds: u64,
    pub minprocs: u64,
    pub nocleanup: bool,
    pub strip_ansi: bool,
    pub identifier: String,
    pub childlogdir: String,
    pub environment: Option<Vec<(String, String)>>,
}

/// `[unix_http_server]` / `[inet_http_server]`: parsed, reported, not served.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub section: String,
    pub kind: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub file: Option<String>,
    pub chmod: Option<String>,
    pub chown: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RpcInterfaceConfig {
    pub name: String,
    pub factory: String,
    pub extras: Vec<(String, String)>,
}

/// The whole resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The main file as given (for messages) and its directory (`%(here)s`).
    pub main_file: PathBuf,
    pub supervisord: SupervisordConfig,
    /// Sorted by (priority, name): supervisord's start order.
    pub groups: Vec<GroupConfig>,
    pub servers: Vec<ServerConfig>,
    pub serverurl: Option<String>,
    pub rpcinterfaces: Vec<RpcInterfaceConfig>,
    /// supervisord's start-up WARN texts (no-match includes, AUTO without rollover…).
    pub warnings: Vec<String>,
    /// supervisord's start-up INFO texts (`Included extra file … during parsing`).
    pub infos: Vec<String>,
    /// rinit's own findings (unknown keys with a suggestion), as `FILE:LINE: message`.
    pub lint: Vec<String>,
    /// `[fcgi-program:x]` groups (not run by rinit).
    pub fcgi_groups: Vec<FcgiGroupConfig>,
}

/// `[fcgi-program:x]`: read so that `rinit dump` matches supervisord, but
/// rinit does not run FastCGI programs (they are listed in `Config::fcgi_groups`,
/// never in `Config::groups`, and `rinit check` warns about them).
#[derive(Debug, Clone, PartialEq)]
pub struct FcgiGroupConfig {
    pub group: GroupConfig,
    /// `unix:///path` or `tcp://host:port`, normalized as supervisord does.
    pub socket: String,
    pub socket_owner: Option<String>,
    pub socket_mode: Option<u32>,
    pub socket_backlog: Option<i64>,
}

#[cfg(test)]
impl ProcessConfig {
    /// A `[program:NAME]` with supervisord's defaults, for unit tests.
    pub fn for_test(name: &str, command: &str) -> ProcessConfig {
        ProcessConfig {
            name: name.to_string(),
            group: name.to_string(),
            section: format!("program:{name}"),
            origin: Origin::default(),
            command: command.to_string(),
            numprocs: 1,
            numprocs_start: 0,
            process_num: 0,
            priority: 999,
            autostart: true,
            startsecs: 1,
            startretries: 3,
            autorestart: AutoRestart::Unexpected,
            exitcodes: vec![0],
            stopsignal: 15,
            stopwaitsecs: 10,
            stopasgroup: false,
            killasgroup: false,
            user: None,
            directory: None,
            umask: None,
            redirect_stderr: false,
            stdout_logfile: None,
            stderr_logfile: None,
            stdout: LogDest::Inherit,
            stderr: LogDest::Inherit,
            stdout_logfile_maxbytes: 0,
            stdout_logfile_backups: 0,
            stdout_capture_maxbytes: 0,
            stdout_events_enabled: false,
            stdout_syslog: false,
            stderr_logfile_maxbytes: 0,
            stderr_logfile_backups: 0,
            stderr_capture_maxbytes: 0,
            stderr_events_enabled: false,
            stderr_syslog: false,
            environment: Vec::new(),
            serverurl: None,
            shutdown_on: ShutdownOn::Never,
            output_prefix: false,
        }
    }
}

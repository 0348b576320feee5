//! supervisord's configuration dialect, read exactly as supervisord 4.2.5 reads it.
//!
//! Layers: `lexer` (INI text → sections of keys with file:line), `expand`
//! (`%(name)s`), `values` (typed value parsers with supervisord's error
//! texts), `load` (sections → `model::Config`, includes, validation),
//! `dump` (oracle JSON), `cli` (`rinit check` / `rinit dump`).

pub mod cli;
mod ctl;
pub mod dump;
pub mod expand;
mod groups;
mod lexer;
mod lint;
mod load;
pub mod model;
mod paths;
mod process;
mod servers;
mod values;

pub use ctl::{ctl_options, CtlOptions, DEFAULT_SERVERURL};
pub use load::MainSource;
pub use model::*;
pub use values::signal_number;

use crate::environ::Environ;
use std::path::{Path, PathBuf};

/// How to read a config: the environment `%(ENV_X)s` sees, and the host facts.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// supervisord's own environment at start-up (becomes `ENV_*`).
    pub env: Environ,
    /// `%(host_node_name)s`.
    pub host_node_name: String,
    /// Look users up in /etc/passwd and require directories to exist
    /// (off for `rinit dump --no-host-checks`, as the oracle does).
    pub host_checks: bool,
    /// A program log file whose directory is missing refuses the config, as
    /// supervisord does (`rinit dump`, supervisord's reading). Off for the
    /// runtime and `rinit check`: the program runs with that output on
    /// rinit's stdout/stderr (docs/output.md) and `check` warns about it.
    pub refuse_missing_log_dirs: bool,
}

/// A configuration error: supervisord's message text, plus where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// supervisord's text, as printed after `Error: `.
    pub message: String,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{}: {}", file.display(), line, self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

impl LoadOptions {
    /// This process's environment and host name, with host checks on: what
    /// the runtime and `rinit check` use.
    pub fn from_host() -> Self {
        LoadOptions {
            env: Environ::host(),
            host_node_name: host_node_name(),
            host_checks: true,
            refuse_missing_log_dirs: false,
        }
    }
}

/// `uname -n`, what supervisord's `platform.node()` returns.
pub fn host_node_name() -> String {
    use std::os::unix::ffi::OsStrExt;
    match nix::sys::utsname::uname() {
        Ok(u) => String::from_utf8_lossy(u.nodename().as_bytes()).into_owned(),
        Err(_) => String::new(),
    }
}

impl std::error::Error for ConfigError {}

/// Parse and validate the main config file `path` (with its includes).
/// `Config::warnings`/`infos` hold supervisord's start-up WARN/INFO texts,
/// `Config::lint` rinit's unknown-key findings.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Config, ConfigError> {
    load::realize(&MainSource::File(path.to_path_buf()), opts).result
}

/// supervisord's search order (docs/config.md) for a binary invoked as `argv0`.
pub fn locate(argv0: &Path) -> Result<PathBuf, ConfigError> {
    let candidates = search_paths(argv0);
    if let Some(found) = candidates.iter().find(|p| Path::new(p).exists()) {
        return Ok(PathBuf::from(found));
    }
    Err(ConfigError {
        message: format!(
            "No config file found at default paths ({}); use the -c option to specify a config file at a different path",
            candidates.join(", ")
        ),
        file: None,
        line: None,
    })
}

fn search_paths(argv0: &Path) -> Vec<String> {
    let argv0 = argv0.to_string_lossy();
    let here = paths::dirname(&paths::dirname(&argv0));
    vec![
        paths::join(&paths::join(&here, "etc"), "supervisord.conf"),
        paths::join(&here, "supervisord.conf"),
        "supervisord.conf".into(),
        "etc/supervisord.conf".into(),
        "/etc/supervisord.conf".into(),
        "/etc/supervisor/supervisord.conf".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order() {
        assert_eq!(
            search_paths(Path::new("/usr/bin/supervisord")),
            vec![
                "/usr/etc/supervisord.conf",
                "/usr/supervisord.conf",
                "supervisord.conf",
                "etc/supervisord.conf",
                "/etc/supervisord.conf",
                "/etc/supervisor/supervisord.conf"
            ]
        );
        assert_eq!(
            search_paths(Path::new("rinit")).first().map(String::as_str),
            Some("etc/supervisord.conf")
        );
    }
}

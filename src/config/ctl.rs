//! `[supervisorctl]` as supervisorctl's `ClientOptions` reads it, for
//! `rinit ctl` (docs/control.md): `serverurl`, `username`, `password`, with
//! `%(here)s` and `%(ENV_X)s` expanded. Only the main file is read.

use super::expand::{expand, Name, Names};
use super::lexer::Ini;
use super::ConfigError;
use std::path::Path;

/// supervisorctl's default `serverurl`.
pub const DEFAULT_SERVERURL: &str = "http://localhost:9001";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CtlOptions {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

pub fn ctl_options(path: &Path) -> Result<CtlOptions, ConfigError> {
    let fail = |message: String, line: Option<usize>| ConfigError {
        message,
        file: Some(path.to_path_buf()),
        line,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            format!("could not read config file {}: {e}", path.display()),
            None,
        )
    })?;
    let mut ini = Ini::default();
    ini.read(&text, path).map_err(|e| fail(e.message, Some(e.line)))?;
    let here = path
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(|d| d.display().to_string()))
        .unwrap_or_default();
    ini.expand_here(&here);
    let mut names = Names::new();
    for (k, v) in std::env::vars() {
        names.insert(format!("ENV_{k}"), Name::Str(v));
    }
    let get = |key: &str| -> Result<Option<String>, ConfigError> {
        match ini.get("supervisorctl", key) {
            Some(v) => expand(&v.text, &names, key)
                .map(Some)
                .map_err(|m| fail(m, Some(v.line))),
            None => Ok(None),
        }
    };
    Ok(CtlOptions {
        serverurl: get("serverurl")?.unwrap_or_else(|| DEFAULT_SERVERURL.to_string()),
        username: get("username")?,
        password: get("password")?,
    })
}

//! Starting a program: command splitting and lookup (reference §4.8), the
//! child's set-up (own process group, stdio, user, directory, umask,
//! environment) and child hygiene (empty signal mask, default dispositions,
//! only fds 0-2 at exec). Everything the child needs is prepared before
//! `fork`, so the child only makes async-signal-safe system calls.

use crate::config::ProcessConfig;

/// Why a spawn failed before or at fork; `Display` is supervisord's
/// `spawnerr:` reason text, verbatim (reference §1.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// `can't find command '{word}'`
    NotFound(String),
    /// `command at '{file}' is a directory`
    IsDirectory(String),
    /// `command at '{file}' is not executable`
    NotExecutable(String),
    /// `no permission to run command '{file}'`
    NoPermission(String),
    /// `can't parse command {repr}: {error}`
    Parse { command: String, error: String },
    /// `command is empty`
    Empty,
    /// `too many open files to spawn '{name}'`
    TooManyFiles(String),
    /// `unknown error making dispatchers for '{name}': {ERRNO}`
    Dispatchers { name: String, errno: String },
    /// `Too many processes in process table to spawn '{name}'`
    TooManyProcesses(String),
    /// `unknown error during fork for '{name}': {ERRNO}`
    Fork { name: String, errno: String },
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        Ok(())
    }
}

/// Spawn one process of a program. `base_env` is rinit's own environment.
/// Returns the child's pid (which is also its process group id).
pub fn spawn_program(p: &ProcessConfig, base_env: &[(String, String)]) -> Result<i32, SpawnError> {
    let _ = (p, base_env);
    Err(SpawnError::Empty)
}

//! Command splitting (Python's `shlex.split`), lookup of the executable,
//! and the child's environment: pure functions of the config and the
//! environment, no system call but `stat` (docs/design.md, "Spawning").

use super::SpawnError;
use crate::config::ProcessConfig;
use crate::environ::Environ;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// Command splitting: Python's shlex.split(s) (posix=True, comments=False).
// ---------------------------------------------------------------------------

/// shlex's two error texts, verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    NoClosingQuotation,
    NoEscapedCharacter,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitError::NoClosingQuotation => "No closing quotation",
            SplitError::NoEscapedCharacter => "No escaped character",
        })
    }
}

/// Where shlex's reader is; mirrors `shlex.read_token`'s `state` variable.
#[derive(Clone, Copy)]
pub(super) enum Lex {
    /// Between words.
    Blank,
    /// Inside a word (shlex state `'a'`).
    Word,
    /// Inside `'…'` or `"…"`.
    Quote(char),
    /// Just read a backslash; holds the state to return to.
    EscapeInWord,
    EscapeInDoubleQuote,
}

/// shlex's `whitespace`: only these four, not every Unicode blank.
pub(super) fn is_shlex_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Split `command` into words exactly as supervisord does. `#` is ordinary
/// text, a backslash inside double quotes escapes only `"` and `\`, and an
/// empty quoted word (`''`) is a word.
pub fn split_command(command: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut token = String::new();
    let mut state = Lex::Blank;
    for c in command.chars() {
        state = match state {
            Lex::Blank | Lex::Word if is_shlex_blank(c) => {
                if matches!(state, Lex::Word) {
                    words.push(std::mem::take(&mut token));
                }
                Lex::Blank
            }
            Lex::Blank | Lex::Word => match c {
                '\\' => Lex::EscapeInWord,
                '\'' | '"' => Lex::Quote(c),
                _ => {
                    token.push(c);
                    Lex::Word
                }
            },
            Lex::Quote(q) if c == q => Lex::Word,
            Lex::Quote('"') if c == '\\' => Lex::EscapeInDoubleQuote,
            Lex::Quote(q) => {
                token.push(c);
                Lex::Quote(q)
            }
            Lex::EscapeInWord => {
                token.push(c);
                Lex::Word
            }
            Lex::EscapeInDoubleQuote => {
                if c != '\\' && c != '"' {
                    token.push('\\');
                }
                token.push(c);
                Lex::Quote('"')
            }
        };
    }
    match state {
        Lex::Blank => {}
        Lex::Word => words.push(token),
        Lex::Quote(_) => return Err(SplitError::NoClosingQuotation),
        Lex::EscapeInWord | Lex::EscapeInDoubleQuote => return Err(SplitError::NoEscapedCharacter),
    }
    Ok(words)
}

// ---------------------------------------------------------------------------
// Lookup (docs/design.md, with rinit's `directory` deviation).
// ---------------------------------------------------------------------------

/// supervisord's fallback when neither the program nor rinit has a PATH.
pub(super) const DEFAULT_SEARCH_PATH: &str = "/bin:/usr/bin:/usr/local/bin";

/// A command that passed every check of docs/design.md and can be exec'd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCommand {
    /// What the child passes to `execve`: absolute, or relative to rinit's
    /// cwd when the program has no `directory` (the child does not chdir then).
    pub file: PathBuf,
    /// The file as supervisord would name it in messages.
    pub shown: String,
    /// `argv[0]` is the word as written, not the resolved path.
    pub argv: Vec<String>,
}

/// The value of the last `key=` in an ordered environment list.
pub(super) fn env_get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The program's PATH if its `environment` defines one (even empty, as
/// Python's `env.get` would), else rinit's own if non-empty, else the default.
pub(super) fn search_path<'a>(program_env: &'a [(String, String)], base_env: &'a Environ) -> &'a str {
    if let Some(p) = env_get(program_env, "PATH") {
        return p;
    }
    match base_env.get("PATH") {
        Some(p) if !p.is_empty() => p,
        _ => DEFAULT_SEARCH_PATH,
    }
}

/// `os.path.join(dir, word)` for a word without `/`.
pub(super) fn py_join(dir: &str, word: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{word}")
    } else {
        format!("{dir}/{word}")
    }
}

/// Where a relative name really lives. rinit resolves it against the
/// program's `directory` (and makes it absolute, because the child execs
/// after its chdir); with no `directory` it stays relative to rinit's cwd,
/// which is also the child's.
pub(super) fn anchor(directory: Option<&str>, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match directory {
        Some(d) => {
            let joined = Path::new(d).join(p);
            if joined.is_absolute() {
                joined
            } else {
                std::env::current_dir()
                    .map(|cwd| cwd.join(&joined))
                    .unwrap_or(joined)
            }
        }
        None => p.to_path_buf(),
    }
}

/// `access(path, X_OK)`, as `os.access` does: for the real uid.
pub(super) fn executable_by_us(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// Split `command` and find its executable as supervisord does, with rinit's
/// deviation for relative names. `program_env` is the program's merged
/// `environment`; `base_env` is rinit's own.
pub fn resolve_command(
    command: &str,
    directory: Option<&str>,
    program_env: &[(String, String)],
    base_env: &Environ,
) -> Result<ResolvedCommand, SpawnError> {
    let argv = split_command(command).map_err(|e| SpawnError::Parse {
        command: command.to_string(),
        error: e.to_string(),
    })?;
    if argv.iter().any(|w| w.contains('\0')) {
        return Err(SpawnError::Parse {
            command: command.to_string(),
            error: "embedded null byte".to_string(),
        });
    }
    let Some(word) = argv.first() else {
        return Err(SpawnError::Empty);
    };
    let found = if word.contains('/') {
        let file = anchor(directory, word);
        std::fs::metadata(&file).ok().map(|st| (word.clone(), file, st))
    } else {
        search_path(program_env, base_env).split(':').find_map(|dir| {
            let shown = py_join(dir, word);
            let file = anchor(directory, &shown);
            std::fs::metadata(&file).ok().map(|st| (shown, file, st))
        })
    };
    let Some((shown, file, st)) = found else {
        return Err(SpawnError::NotFound(word.clone()));
    };
    if st.is_dir() {
        return Err(SpawnError::IsDirectory(shown));
    }
    if st.permissions().mode() & 0o111 == 0 {
        return Err(SpawnError::NotExecutable(shown));
    }
    if !executable_by_us(&file) {
        return Err(SpawnError::NoPermission(shown));
    }
    Ok(ResolvedCommand { file, shown, argv })
}

// ---------------------------------------------------------------------------
// Environment.
// ---------------------------------------------------------------------------

/// What a child gets on top of rinit's environment (docs/design.md): the
/// `SUPERVISOR_*` variables scripts test for, then the configured
/// `environment`, which can override them and rinit's own.
pub(super) fn child_extra(p: &ProcessConfig) -> Vec<(&str, &str)> {
    let mut extra = Vec::with_capacity(p.environment.len() + 4);
    extra.push(("SUPERVISOR_ENABLED", "1"));
    if let Some(url) = &p.serverurl {
        extra.push(("SUPERVISOR_SERVER_URL", url.as_str()));
    }
    extra.push(("SUPERVISOR_PROCESS_NAME", p.name.as_str()));
    extra.push(("SUPERVISOR_GROUP_NAME", p.group.as_str()));
    extra.extend(p.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    extra
}

/// The child's environment as owned pairs, in order, no name twice.
pub fn child_environment(p: &ProcessConfig, base: &Environ) -> Vec<(String, String)> {
    base.with(&child_extra(p))
}

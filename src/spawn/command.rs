//! Command splitting (Python's `shlex.split`), lookup of the executable,
//! and the child's environment: pure functions of the config and the
//! environment, no system call but `stat` (docs/design.md, "Spawning").

use super::SpawnError;
use crate::config::ProcessConfig;
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
pub(super) fn search_path<'a>(
    program_env: &'a [(String, String)],
    base_env: &'a [(String, String)],
) -> &'a str {
    if let Some(p) = env_get(program_env, "PATH") {
        return p;
    }
    match env_get(base_env, "PATH") {
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
    base_env: &[(String, String)],
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

/// An ordered environment being built with Python dict semantics: a key
/// keeps its first position, the last value wins.
struct EnvBuilder<'a> {
    env: Vec<(&'a str, &'a str)>,
    /// One bit per `bucket` of the keys stored: a key whose bucket is empty
    /// is new, so the search for it (which made building the environment
    /// quadratic in its size) is skipped.
    seen: [u64; 4],
}

impl<'a> EnvBuilder<'a> {
    fn bucket(key: &str) -> usize {
        let b = key.as_bytes();
        let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
        (b.len()
            .wrapping_mul(31)
            .wrapping_add(usize::from(first))
            .wrapping_add(usize::from(last).wrapping_mul(7)))
            & 255
    }

    fn set(&mut self, key: &'a str, value: &'a str) {
        let i = Self::bucket(key);
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let Some(w) = self.seen.get_mut(word) else {
            return;
        };
        if *w & bit != 0 {
            if let Some(slot) = self.env.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                return;
            }
        }
        *w |= bit;
        self.env.push((key, value));
    }
}

/// The child's environment (docs/design.md): rinit's own, the
/// `SUPERVISOR_*` variables scripts test for, then the configured
/// `environment` on top so it can override them. No key appears twice.
/// Borrowed from its sources: a spawn copies each string once, into the
/// `envp` block (`spawn::envp_array`).
pub(super) fn child_env<'a>(
    p: &'a ProcessConfig,
    base_env: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut b = EnvBuilder {
        env: Vec::with_capacity(base_env.len() + p.environment.len() + 4),
        seen: [0; 4],
    };
    for (k, v) in base_env {
        b.set(k, v);
    }
    b.set("SUPERVISOR_ENABLED", "1");
    if let Some(url) = &p.serverurl {
        b.set("SUPERVISOR_SERVER_URL", url);
    }
    b.set("SUPERVISOR_PROCESS_NAME", &p.name);
    b.set("SUPERVISOR_GROUP_NAME", &p.group);
    for (k, v) in &p.environment {
        b.set(k, v);
    }
    b.env
}

/// [`child_env`] as owned pairs.
pub fn child_environment(p: &ProcessConfig, base_env: &[(String, String)]) -> Vec<(String, String)> {
    child_env(p, base_env)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket bits only skip searches: with many keys (every bucket
    /// taken, keys repeated) the result is the plain quadratic one.
    #[test]
    fn environment_with_many_keys_keeps_first_position_and_last_value() {
        let base: Vec<(String, String)> = (0..2000)
            .map(|i| (format!("K{}", i % 700), format!("v{i}")))
            .collect();
        let mut p = ProcessConfig::for_test("p", "x");
        p.environment = vec![("K5".into(), "mine".into()), ("NEW".into(), "n".into())];
        let mut want: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: &str| match want.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => want.push((k.to_string(), v.to_string())),
        };
        for (k, v) in &base {
            set(k, v);
        }
        set("SUPERVISOR_ENABLED", "1");
        set("SUPERVISOR_PROCESS_NAME", "p");
        set("SUPERVISOR_GROUP_NAME", &p.group);
        set("K5", "mine");
        set("NEW", "n");
        assert_eq!(child_environment(&p, &base), want);
        assert_eq!(want.len(), 700 + 4);
    }
}

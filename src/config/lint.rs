//! rinit's own findings that supervisord keeps silent about: unknown keys
//! (with the closest known key) and sections supervisord ignores.

use super::lexer::{same, Ini};

const PROGRAM_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
    "shutdown_on",
    "output_prefix",
];
const LISTENER_KEYS: &[&str] = &["events", "buffer_size", "result_handler"];
const FCGI_KEYS: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];
const SUPERVISORD_KEYS: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
    "output_prefix",
];
const GROUP_KEYS: &[&str] = &["programs", "priority"];
const INCLUDE_KEYS: &[&str] = &["files"];
const UNIX_KEYS: &[&str] = &["file", "chmod", "chown", "username", "password"];
const INET_KEYS: &[&str] = &["port", "username", "password"];
const CTL_KEYS: &[&str] = &["serverurl", "username", "password", "prompt", "history_file"];

type Keys = &'static [&'static str];

/// The keys a section understands, in two lists (the program keys and a
/// section kind's own); `None` for sections whose keys are free
/// (`[rpcinterface:x]` extras, `[ctlplugin:x]`) or that supervisord ignores.
fn known_keys(section: &str) -> Option<(Keys, Keys)> {
    if section.starts_with("program:") {
        Some((PROGRAM_KEYS, &[]))
    } else if section.starts_with("eventlistener:") {
        Some((PROGRAM_KEYS, LISTENER_KEYS))
    } else if section.starts_with("fcgi-program:") {
        Some((PROGRAM_KEYS, FCGI_KEYS))
    } else if section.starts_with("group:") {
        Some((GROUP_KEYS, &[]))
    } else if section == "supervisord" {
        Some((SUPERVISORD_KEYS, &[]))
    } else if section == "include" {
        Some((INCLUDE_KEYS, &[]))
    } else if section.starts_with("unix_http_server") {
        Some((UNIX_KEYS, &[]))
    } else if section.starts_with("inet_http_server") {
        Some((INET_KEYS, &[]))
    } else if section == "supervisorctl" {
        Some((CTL_KEYS, &[]))
    } else {
        None
    }
}

/// Sections supervisord reads at all (anything else it ignores silently).
fn recognised(section: &str) -> bool {
    [
        "supervisord",
        "program:",
        "group:",
        "eventlistener:",
        "fcgi-program:",
        "include",
        "unix_http_server",
        "inet_http_server",
        "supervisorctl",
        "rpcinterface:",
        "ctlplugin:",
    ]
    .iter()
    .any(|p| section.starts_with(p))
}

/// `FILE:LINE: unknown key 'x' in [s]; did you mean 'y'?` for every unknown key.
pub fn unknown_keys(ini: &Ini) -> Vec<String> {
    let mut out = Vec::new();
    for section in &ini.sections {
        if !recognised(&section.name) {
            out.push(format!(
                "{}:{}: section [{}] is not a supervisord section and is ignored",
                section.file.display(),
                section.line,
                section.name
            ));
            continue;
        }
        let Some((known, own)) = known_keys(&section.name) else {
            continue;
        };
        for (key, value) in &section.keys {
            if known.iter().chain(own).any(|k| same(k, key)) {
                continue;
            }
            let known: Vec<&str> = known.iter().chain(own).copied().collect();
            let mut line = format!(
                "{}:{}: unknown key '{}' in [{}]",
                value.file.display(),
                value.line,
                key,
                section.name
            );
            if let Some(best) = closest(key, &known) {
                line.push_str(&format!("; did you mean '{best}'?"));
            }
            out.push(line);
        }
    }
    out
}

/// The known key nearest by edit distance, if it is near enough to be a typo.
pub fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    // A key this long is no typo of a known key; also bounds the work.
    if key.chars().count() > 64 {
        return None;
    }
    let len = key.chars().count();
    let limit = (len / 3).clamp(1, 3);
    // The distance is at least the difference in length: skip the keys that
    // cannot be near enough (most of them), so that a section with 100,000
    // unknown keys costs milliseconds, not seconds.
    let (best, distance) = known
        .iter()
        .filter(|k| k.len().abs_diff(len) <= limit)
        .map(|k| (*k, edit_distance(key, k)))
        .min_by_key(|(_, d)| *d)?;
    (distance <= limit).then_some(best)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        if let Some(x) = d.get_mut(at(i, 0)) {
            *x = i;
        }
    }
    for j in 0..=b.len() {
        if let Some(x) = d.get_mut(at(0, j)) {
            *x = j;
        }
    }
    let get = |d: &Vec<usize>, i: usize, j: usize| d.get(at(i, j)).copied().unwrap_or(usize::MAX / 2);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a.get(i - 1) != b.get(j - 1));
            let mut v = (get(&d, i - 1, j) + 1)
                .min(get(&d, i, j - 1) + 1)
                .min(get(&d, i - 1, j - 1) + cost);
            if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                v = v.min(get(&d, i - 2, j - 2) + 1);
            }
            if let Some(x) = d.get_mut(at(i, j)) {
                *x = v;
            }
        }
    }
    get(&d, a.len(), b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct_bits(keys: &[&str]) {
        let mut seen = std::collections::HashMap::new();
        for k in keys {
            let bit = crate::config::lexer::key_bit(k);
            if let Some(other) = seen.insert(bit, *k) {
                assert_eq!(other, *k, "{other} and {k} share a mask bit");
            }
        }
    }

    /// `lexer::key_bit`'s factor keeps the keys one section is asked for
    /// apart: a key that is not set then costs no search.
    #[test]
    fn known_keys_have_their_own_bits() {
        let program_like: Vec<&str> = PROGRAM_KEYS
            .iter()
            .chain(LISTENER_KEYS)
            .chain(FCGI_KEYS)
            .copied()
            .collect();
        distinct_bits(&program_like);
        distinct_bits(SUPERVISORD_KEYS);
        for keys in [GROUP_KEYS, INCLUDE_KEYS, UNIX_KEYS, INET_KEYS, CTL_KEYS] {
            distinct_bits(keys);
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("autorestrat", PROGRAM_KEYS), Some("autorestart"));
        assert_eq!(closest("comand", PROGRAM_KEYS), Some("command"));
        assert_eq!(closest("zzzzzzzzzz", PROGRAM_KEYS), None);
    }

    #[test]
    fn lint_lines() {
        let mut ini = Ini::default();
        ini.read(
            "[program:web]\ncommand=x\nautorestrat=true\n[programs:x]\n",
            std::path::Path::new("f.conf"),
        )
        .unwrap();
        assert_eq!(
            unknown_keys(&ini),
            vec![
                "f.conf:3: unknown key 'autorestrat' in [program:web]; did you mean 'autorestart'?"
                    .to_string(),
                "f.conf:4: section [programs:x] is not a supervisord section and is ignored".to_string(),
            ]
        );
    }
}

//! rinit's own findings that supervisord keeps silent about: unknown keys
//! (with the closest known key) and sections supervisord ignores.

use super::lexer::{key_slot, same, Ini};

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

/// The keys one kind of section understands, in two lists (the program keys
/// and the kind's own), with a table from `lexer::key_slot` to the key
/// there: checking a key is one look-up and one compare.
struct Known {
    main: Keys,
    own: Keys,
    /// 1 + the key's position in `main` then `own`; 0: no known key.
    slots: [u8; 128],
}

impl Known {
    /// At compile time: two known keys of one kind in the same slot stop
    /// the build (the loader's mask relies on them being apart too).
    const fn new(main: Keys, own: Keys) -> Known {
        let mut slots = [0u8; 128];
        let mut n = 0;
        while n < main.len() + own.len() {
            let key = if n < main.len() {
                main[n]
            } else {
                own[n - main.len()]
            };
            let slot = key_slot(key) as usize;
            assert!(slots[slot] == 0, "two known keys share a key slot");
            slots[slot] = (n + 1) as u8;
            n += 1;
        }
        Known { main, own, slots }
    }

    fn has(&self, key: &str) -> bool {
        let at = self.slots.get(key_slot(key) as usize).copied().unwrap_or(0);
        let Some(n) = usize::from(at).checked_sub(1) else {
            return false;
        };
        let known = match n.checked_sub(self.main.len()) {
            None => self.main.get(n),
            Some(i) => self.own.get(i),
        };
        known.is_some_and(|k| same(k, key))
    }

    fn all(&self) -> Vec<&'static str> {
        self.main.iter().chain(self.own).copied().collect()
    }
}

static PROGRAM: Known = Known::new(PROGRAM_KEYS, &[]);
static LISTENER: Known = Known::new(PROGRAM_KEYS, LISTENER_KEYS);
static FCGI: Known = Known::new(PROGRAM_KEYS, FCGI_KEYS);
static GROUP: Known = Known::new(GROUP_KEYS, &[]);
static SUPERVISORD: Known = Known::new(SUPERVISORD_KEYS, &[]);
static INCLUDE: Known = Known::new(INCLUDE_KEYS, &[]);
static UNIX: Known = Known::new(UNIX_KEYS, &[]);
static INET: Known = Known::new(INET_KEYS, &[]);
static CTL: Known = Known::new(CTL_KEYS, &[]);

/// Every known key by its `key_slot`: the lexer stores a known key as
/// this `'static` text instead of a copy of its own. Where two kinds' keys
/// share a slot the first list wins: the program and `[supervisord]` keys
/// all have theirs.
static BY_SLOT: [&str; 128] = {
    let lists = [
        PROGRAM_KEYS,
        SUPERVISORD_KEYS,
        LISTENER_KEYS,
        FCGI_KEYS,
        GROUP_KEYS,
        INCLUDE_KEYS,
        UNIX_KEYS,
        INET_KEYS,
        CTL_KEYS,
    ];
    let mut table = [""; 128];
    let mut l = 0;
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            let slot = key_slot(lists[l][i]) as usize;
            if table[slot].is_empty() {
                table[slot] = lists[l][i];
            }
            i += 1;
        }
        l += 1;
    }
    table
};

/// `key` as a known key's `'static` text, if it is one.
#[inline]
pub(super) fn known_key(key: &str, slot: u32) -> Option<&'static str> {
    BY_SLOT.get(slot as usize).copied().filter(|k| same(k, key))
}

/// The keys a section understands; `None` for sections whose keys are free
/// (`[rpcinterface:x]` extras, `[ctlplugin:x]`) or that supervisord ignores.
fn known_keys(section: &str) -> Option<&'static Known> {
    if section.starts_with("program:") {
        Some(&PROGRAM)
    } else if section.starts_with("eventlistener:") {
        Some(&LISTENER)
    } else if section.starts_with("fcgi-program:") {
        Some(&FCGI)
    } else if section.starts_with("group:") {
        Some(&GROUP)
    } else if section == "supervisord" {
        Some(&SUPERVISORD)
    } else if section == "include" {
        Some(&INCLUDE)
    } else if section.starts_with("unix_http_server") {
        Some(&UNIX)
    } else if section.starts_with("inet_http_server") {
        Some(&INET)
    } else if section == "supervisorctl" {
        Some(&CTL)
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
        // A section with known keys is a recognised one.
        let known = known_keys(&section.name);
        if known.is_none() && !recognised(&section.name) {
            out.push(format!(
                "{}:{}: section [{}] is not a supervisord section and is ignored",
                section.file.display(),
                section.line,
                section.name
            ));
            continue;
        }
        let Some(known) = known else {
            continue;
        };
        for (key, value) in &section.keys {
            if known.has(key) {
                continue;
            }
            let known = known.all();
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

    #[test]
    fn known_keys_are_shared() {
        for key in PROGRAM_KEYS.iter().chain(SUPERVISORD_KEYS).chain(LISTENER_KEYS) {
            assert_eq!(known_key(key, key_slot(key)), Some(*key));
        }
        assert_eq!(known_key("commandx", key_slot("commandx")), None);
        assert_eq!(known_key("Command", key_slot("Command")), None);
        assert_eq!(known_key("", key_slot("")), None);
    }

    /// Every known key is found in its table, and nothing else is.
    #[test]
    fn known_tables() {
        for known in [
            &PROGRAM,
            &LISTENER,
            &FCGI,
            &GROUP,
            &SUPERVISORD,
            &INCLUDE,
            &UNIX,
            &INET,
            &CTL,
        ] {
            for key in known.all() {
                assert!(known.has(key), "{key}");
                assert!(!known.has(&format!("{key}x")), "{key}x");
                assert!(!known.has(&key[1..]), "{key}");
            }
            assert!(!known.has(""));
        }
        assert!(LISTENER.has("events") && !PROGRAM.has("events"));
        assert!(FCGI.has("socket_mode") && FCGI.has("command") && !LISTENER.has("socket_mode"));
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

//! Linux signal names: the one table behind both the names rinit prints
//! (`terminated by SIGTERM`, `received SIGINT`) and the names a config may
//! give (`stopsignal=term`), as Python's `signal` module knows them.

/// Python's `signal` module on Linux: every `SIG*` attribute with its value.
/// A number's canonical name comes first; `ALIAS` marks the other spellings.
const SIGNALS: &[(&str, i32, Kind)] = &[
    ("SIGHUP", 1, NAME),
    ("SIGINT", 2, NAME),
    ("SIGQUIT", 3, NAME),
    ("SIGILL", 4, NAME),
    ("SIGTRAP", 5, NAME),
    ("SIGABRT", 6, NAME),
    ("SIGIOT", 6, ALIAS),
    ("SIGBUS", 7, NAME),
    ("SIGFPE", 8, NAME),
    ("SIGKILL", 9, NAME),
    ("SIGUSR1", 10, NAME),
    ("SIGSEGV", 11, NAME),
    ("SIGUSR2", 12, NAME),
    ("SIGPIPE", 13, NAME),
    ("SIGALRM", 14, NAME),
    ("SIGTERM", 15, NAME),
    ("SIGSTKFLT", 16, NAME),
    ("SIGCHLD", 17, NAME),
    ("SIGCLD", 17, ALIAS),
    ("SIGCONT", 18, NAME),
    ("SIGSTOP", 19, NAME),
    ("SIGTSTP", 20, NAME),
    ("SIGTTIN", 21, NAME),
    ("SIGTTOU", 22, NAME),
    ("SIGURG", 23, NAME),
    ("SIGXCPU", 24, NAME),
    ("SIGXFSZ", 25, NAME),
    ("SIGVTALRM", 26, NAME),
    ("SIGPROF", 27, NAME),
    ("SIGWINCH", 28, NAME),
    ("SIGIO", 29, NAME),
    ("SIGPOLL", 29, ALIAS),
    ("SIGPWR", 30, NAME),
    ("SIGSYS", 31, NAME),
    ("SIGRTMIN", 34, NAME),
    ("SIGRTMAX", 64, NAME),
    // The handler/mask constants also start with SIG, and supervisord's
    // `getattr(signal, name)` accepts them as signal names.
    ("SIG_DFL", 0, ALIAS),
    ("SIG_IGN", 1, ALIAS),
    ("SIG_BLOCK", 0, ALIAS),
    ("SIG_UNBLOCK", 1, ALIAS),
    ("SIG_SETMASK", 2, ALIAS),
];

type Kind = bool;
const NAME: Kind = true;
const ALIAS: Kind = false;

/// The canonical `SIG…` name of `sig`, if it has one.
pub fn canonical(sig: i32) -> Option<&'static str> {
    let at = usize::try_from(sig).ok().and_then(|i| CANONICAL.get(i))?;
    let (name, _, _) = SIGNALS.get(usize::from(at.checked_sub(1)?))?;
    Some(name)
}

/// `canonical` by number, drawn from `SIGNALS` when compiling: one more
/// than the place in `SIGNALS` of the first name of each number that is
/// not an alias (0: none). Every stop and exit line names a signal, and
/// scanning the table for it cost more than the rest of the name's part of
/// the line. Places, not names: a table of pointers would cost a relocation
/// each at every start of the binary.
const CANONICAL: [u8; 65] = {
    assert!(SIGNALS.len() < 256, "places must fit a u8");
    let mut by_number = [0u8; 65];
    let mut k = 0;
    while k < SIGNALS.len() {
        let (_, n, kind) = SIGNALS[k];
        if kind == NAME && n >= 0 && (n as usize) < by_number.len() && by_number[n as usize] == 0 {
            by_number[n as usize] = (k + 1) as u8;
        }
        k += 1;
    }
    by_number
};

/// The name supervisord prints in its log lines: `SIGTERM`, or `signal 40`
/// for a number without a name.
pub fn signal_name(sig: i32) -> String {
    match canonical(sig) {
        Some(name) => name.to_string(),
        None => format!("signal {sig}"),
    }
}

/// The value of a full `SIG…` name, aliases included (`SIGIOT` → 6).
pub fn by_name(name: &str) -> Option<i32> {
    SIGNALS.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| *v)
}

/// `by_name` for a name already upper-cased except, perhaps, its ASCII
/// letters (the config's `stopsignal=term`).
pub fn by_name_ignoring_ascii_case(name: &str) -> Option<i32> {
    SIGNALS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(17), "SIGCHLD");
        assert_eq!(signal_name(29), "SIGIO");
        assert_eq!(signal_name(34), "SIGRTMIN");
        assert_eq!(signal_name(40), "signal 40");
        assert_eq!(signal_name(0), "signal 0");
        assert_eq!(by_name("SIGIOT"), Some(6));
        assert_eq!(by_name("SIG_SETMASK"), Some(2));
        assert_eq!(by_name("SIGFOO"), None);
    }

    #[test]
    fn canonical_by_number_is_the_tables_first_name() {
        for sig in -2..=70 {
            let scanned = SIGNALS
                .iter()
                .find(|(_, n, kind)| *n == sig && *kind == NAME)
                .map(|(name, _, _)| *name);
            assert_eq!(canonical(sig), scanned, "signal {sig}");
        }
    }

    /// Every number 1–31 has exactly one canonical name.
    #[test]
    fn one_canonical_name_per_number() {
        for sig in 1..=31 {
            let count = SIGNALS.iter().filter(|(_, n, k)| *n == sig && *k == NAME).count();
            assert_eq!(count, 1, "signal {sig}");
        }
    }
}

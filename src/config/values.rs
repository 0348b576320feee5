//! Typed value parsers (supervisord's `datatypes.py`), each returning
//! supervisord's exact `ValueError` text so `rinit check` and the oracle agree.

use super::lexer::py_strip;
use crate::pyrepr::{py_int, repr};
use crate::signame;

/// Python `int(s)` (base 10): blanks around, one sign, `_` between digits;
/// no bound short of `i128` (see `pyrepr::py_int`).
pub fn int_value(s: &str) -> Result<i128, String> {
    py_int(s, 10).ok_or_else(|| format!("invalid literal for int() with base 10: {}", repr(s)))
}

/// `integer()` where rinit keeps the value as an `i64` (`numprocs`,
/// `numprocs_start`, ports, ids): Python would accept a larger one, rinit
/// says plainly that it cannot hold it.
pub fn integer(s: &str) -> Result<i64, String> {
    let n = int_value(s)?;
    i64::try_from(n).map_err(|_| format!("{} is out of range (rinit's integers are 64-bit)", py_strip(s)))
}

/// An integer type an option is stored in.
pub trait Stored: TryFrom<i128> + Copy {
    const LOW: Self;
    const HIGH: Self;
    const SIGNED: bool;
}

macro_rules! stored {
    ($($t:ty: $signed:expr),*) => {$(
        impl Stored for $t {
            const LOW: Self = <$t>::MIN;
            const HIGH: Self = <$t>::MAX;
            const SIGNED: bool = $signed;
        }
    )*};
}
stored!(u32: false, u64: false, i32: true);

/// `integer()` into the type a field is stored in. supervisord accepts any
/// Python int; a value past the type's end means the same as its end
/// (seconds beyond `u64` are forever, retries beyond `u32` are endless, a
/// priority beyond `i32` sorts last), so it saturates there, and the runtime
/// saturates its arithmetic on it (docs/config.md, "Integers"). rinit is
/// stricter than supervisord only where a value could not mean anything:
/// a negative count, number of seconds or size.
pub fn integer_in<T: Stored>(s: &str, key: &str) -> Result<T, String> {
    let n = int_value(s)?;
    if let Ok(v) = T::try_from(n) {
        return Ok(v);
    }
    if n < 0 && !T::SIGNED {
        return Err(format!("invalid value for {key}: {n} is out of range"));
    }
    Ok(if n < 0 { T::LOW } else { T::HIGH })
}

fn parse_int(s: &str, radix: u32) -> Option<i128> {
    py_int(s, radix)
}

/// `boolean()`: `true yes on 1` / `false no off 0`, any case.
pub fn boolean(s: &str) -> Result<bool, String> {
    if is_one_of(s, &["yes", "true", "on", "1"]) {
        Ok(true)
    } else if is_one_of(s, &["no", "false", "off", "0"]) {
        Ok(false)
    } else {
        Err(format!("not a valid boolean value: {}", repr(s)))
    }
}

/// `s.lower() in words` without allocating: for these ASCII words without a
/// `k` or an `i` (whose Unicode capitals lower-case oddly), Python's
/// `lower()` and an ASCII case-insensitive compare agree.
fn is_one_of(s: &str, words: &[&str]) -> bool {
    words.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// `byte_size()`: an int with an optional `kb`/`mb`/`gb` suffix (powers of 1024).
pub fn byte_size(s: &str) -> Result<u64, String> {
    // Python lower-cases the whole value first; an ASCII value is matched
    // case-insensitively instead, and lower-cased only for the error text.
    if !s.is_ascii() {
        return byte_size_lowered(&s.to_lowercase(), s);
    }
    let (number, factor) = match s.len().checked_sub(2).and_then(|i| Some((i, s.get(i..)?))) {
        Some((i, suffix)) if suffix.eq_ignore_ascii_case("kb") => (s.get(..i).unwrap_or(""), 1u64 << 10),
        Some((i, suffix)) if suffix.eq_ignore_ascii_case("mb") => (s.get(..i).unwrap_or(""), 1u64 << 20),
        Some((i, suffix)) if suffix.eq_ignore_ascii_case("gb") => (s.get(..i).unwrap_or(""), 1u64 << 30),
        _ => (s, 1),
    };
    match py_int(number, 10) {
        Some(n) => sized(n, factor, s),
        None => Err(format!(
            "invalid literal for int() with base 10: {}",
            repr(&number.to_ascii_lowercase())
        )),
    }
}

fn byte_size_lowered(v: &str, s: &str) -> Result<u64, String> {
    let (number, factor) = match v
        .len()
        .checked_sub(2)
        .and_then(|i| v.get(i..).map(|suffix| (i, suffix)))
    {
        Some((i, "kb")) => (v.get(..i).unwrap_or(""), 1u64 << 10),
        Some((i, "mb")) => (v.get(..i).unwrap_or(""), 1u64 << 20),
        Some((i, "gb")) => (v.get(..i).unwrap_or(""), 1u64 << 30),
        _ => (v, 1),
    };
    sized(int_value(number)?, factor, s)
}

fn sized(n: i128, factor: u64, s: &str) -> Result<u64, String> {
    if n < 0 {
        return Err(format!("invalid byte size {}: negative", repr(s)));
    }
    // Python's int has no end; past u64 a size means "never reached".
    Ok(u64::try_from(n.saturating_mul(i128::from(factor))).unwrap_or(u64::MAX))
}

/// `octal_type()`: `int(arg, 8)`.
pub fn octal(s: &str) -> Result<u32, String> {
    parse_int(s, 8)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{s} can not be converted to an octal type"))
}

/// `signal_number()`: a name (any case, optional `SIG`) or a number that is
/// one of the values of those names: 0–31, 34, 64 on Linux.
pub fn signal_number(s: &str) -> Result<i32, String> {
    let num = match py_int(s, 10) {
        Some(n) => n,
        None => {
            let t = py_strip(s);
            // Python upper-cases first; ASCII text can be compared as it is.
            let upper = if t.is_ascii() {
                std::borrow::Cow::Borrowed(t)
            } else {
                std::borrow::Cow::Owned(t.to_uppercase())
            };
            let found = if upper.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("SIG")) {
                signame::by_name_ignoring_ascii_case(&upper)
            } else {
                signame::by_name_ignoring_ascii_case(&format!("SIG{upper}"))
            };
            match found {
                Some(v) => i128::from(v),
                None => return Err(format!("value {} is not a valid signal name", repr(s))),
            }
        }
    };
    match i32::try_from(num) {
        Ok(n) if (0..=31).contains(&n) || n == 34 || n == 64 => Ok(n),
        _ => Err(format!("value {} is not a valid signal number", repr(s))),
    }
}

/// The name the oracle prints for a signal number (`signal.Signals(n).name[3:]`).
pub fn signal_name(num: i32) -> Option<&'static str> {
    signame::canonical(num).and_then(|n| n.get(3..))
}

/// `list_of_exitcodes()`: comma-separated ints in 0–255; empty = none.
pub fn exit_codes(s: &str) -> Result<Vec<i32>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || format!("not a valid list of exit codes: {}", repr(s));
    s.split(',')
        .map(|item| match parse_int(item, 10) {
            Some(n) if (0..=255).contains(&n) => i32::try_from(n).map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect()
}

/// `auto_restart()`.
pub fn auto_restart(s: &str) -> Result<super::model::AutoRestart, String> {
    use super::model::AutoRestart;
    if is_one_of(s, &["yes", "true", "on", "1"]) {
        Ok(AutoRestart::True)
    } else if is_one_of(s, &["no", "false", "off", "0"]) {
        Ok(AutoRestart::False)
    } else if is_one_of(s, &["unexpected"]) {
        Ok(AutoRestart::Unexpected)
    } else {
        Err(format!("invalid 'autorestart' value {}", repr(&s.to_lowercase())))
    }
}

/// rinit's `shutdown_on=` extension (docs/design.md).
pub fn shutdown_on(s: &str) -> Result<super::model::ShutdownOn, String> {
    use super::model::ShutdownOn;
    match s {
        _ if is_one_of(s, &["never"]) => Ok(ShutdownOn::Never),
        _ if is_one_of(s, &["fatal"]) => Ok(ShutdownOn::Fatal),
        _ if is_one_of(s, &["unexpected"]) => Ok(ShutdownOn::Unexpected),
        _ if is_one_of(s, &["any"]) => Ok(ShutdownOn::Any),
        _ => Err(format!(
            "invalid 'shutdown_on' value {} (expected never, fatal, unexpected or any)",
            repr(s)
        )),
    }
}

/// `logging_level()`: the level's description, lower-cased; the words are
/// `log::Level`'s (their one home).
pub fn logging_level(s: &str) -> Result<String, String> {
    let v = s.to_lowercase();
    match crate::log::Level::from_config(&v) {
        Some(_) => Ok(v),
        None => Err(format!("bad logging level name {}", repr(s))),
    }
}

/// `process_or_group_name()`: trimmed, without blank, `:` or `/`.
pub fn process_or_group_name(s: &str) -> Result<String, String> {
    let t = py_strip(s);
    // One pass finds whether any of the three is there; the message names
    // the first of them in this order that is.
    if t.bytes().any(|b| matches!(b, b' ' | b':' | b'/')) {
        if let Some(c) = [' ', ':', '/'].into_iter().find(|c| t.contains(*c)) {
            return Err(format!(
                "Invalid name: {} because of character: {}",
                repr(s),
                repr(&c.to_string())
            ));
        }
    }
    Ok(t.to_string())
}

/// `list_of_strings()`: comma-split, each item stripped; empty = none.
pub fn list_of_strings(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|x| py_strip(x).to_string()).collect()
}

/// A `*_logfile=` value as `logfile_name()` classifies it.
#[derive(Debug, Clone, PartialEq)]
pub enum LogName {
    None,
    Auto,
    Syslog,
    Path(String),
}

pub fn log_name(s: &str) -> LogName {
    match s.to_lowercase().as_str() {
        "none" | "off" => LogName::None,
        "auto" => LogName::Auto,
        "syslog" => LogName::Syslog,
        _ => LogName::Path(s.to_string()),
    }
}

/// `inet_address()`: `[host:]port`, host lower-cased, `*` = all.
pub fn inet_address(s: &str) -> Result<(String, i64), String> {
    let port_number = |p: &str| -> Result<i64, String> {
        let n = int_value(p)?;
        if n < 1 {
            return Err(format!("{n} is below lower bound (1)"));
        }
        if n > 0xffff {
            return Err(format!("{n} is above upper bound (65535)"));
        }
        Ok(n as i64)
    };
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty() {
                return Err(format!("no port number specified in {}", repr(port)));
            }
            (host.to_lowercase(), port_number(port)?)
        }
        None => (
            String::new(),
            port_number(s).map_err(|_| format!("not a valid port number: {} ", repr(s)))?,
        ),
    };
    let host = if host == "*" { String::new() } else { host };
    Ok((host, port))
}

/// pkg_resources' entry-point syntax (`module:attrs [extras]`), which the
/// oracle checks instead of importing Python code.
pub fn entry_point(spec: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "(\"EntryPoint must be in 'name=module:attrs [extras]' format\", {})",
            repr(&format!("x={spec}"))
        )
    };
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    let mut rest = py_strip(spec);
    if let Some(open) = rest.find('[') {
        if !rest.ends_with(']') {
            return Err(bad());
        }
        rest = rest.get(..open).unwrap_or("").trim_end();
    }
    let (module, attr) = match rest.split_once(':') {
        Some((m, a)) => (m.trim_end(), Some(a.trim_start())),
        None => (rest, None),
    };
    if !word(module) || attr.is_some_and(|a| !word(a)) {
        return Err(bad());
    }
    Ok(())
}

/// Python's non-POSIX `shlex` tokens with supervisord's extra word
/// characters; quoted tokens keep their quotes.
fn env_tokens(s: &str) -> Result<Vec<String>, String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || "_/.+-():".contains(c);
    let is_blank = |c: char| " \t\r\n".contains(c);
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if is_blank(c) {
            continue;
        }
        if c == '#' {
            while chars.get(i).is_some_and(|c| *c != '\n') {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut token = c.to_string();
            loop {
                let Some(&q) = chars.get(i) else {
                    return Err("No closing quotation".into());
                };
                i += 1;
                token.push(q);
                if q == c {
                    break;
                }
            }
            tokens.push(token);
            continue;
        }
        if !is_word(c) {
            tokens.push(c.to_string());
            continue;
        }
        let mut token = c.to_string();
        while let Some(&n) = chars.get(i) {
            if n == '#' {
                // A comment inside a word swallows the rest of the line and
                // the word goes on after it (non-POSIX shlex).
                while chars.get(i).is_some_and(|c| *c != '\n') {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if is_word(n) || n == '\'' || n == '"' {
                token.push(n);
                i += 1;
            } else {
                break;
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// `dict_of_key_value_pairs()`: `KEY=value,KEY2="v 2"` in groups of four
/// tokens, the fourth skipped unchecked (so `A=$HOME` silently gives `A=$`).
pub fn environment(s: &str) -> Result<Vec<(String, String)>, String> {
    let tokens = env_tokens(s)?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2)) {
            (Some(k), Some(eq), Some(v)) if eq == "=" => {
                let v = v.trim_matches(['\'', '"']).to_string();
                match out.iter_mut().find(|(key, _)| key == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k.clone(), v)),
                }
            }
            _ => return Err(format!("Unexpected end of key/value pairs in value '{s}'")),
        }
        i += 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: the level words had a second home here; now `log::Level`.
    #[test]
    fn logging_level_words_come_from_log_level() {
        for w in ["critical", "ERROR", "Warn", "info", "debug", "trace", "blather"] {
            assert_eq!(logging_level(w), Ok(w.to_lowercase()));
            assert!(crate::log::Level::from_config(w).is_some());
        }
        assert_eq!(
            logging_level("warning"),
            Err("bad logging level name 'warning'".into())
        );
    }

    #[test]
    fn ints() {
        assert_eq!(integer(" 1_000 "), Ok(1000));
        assert_eq!(integer("-5"), Ok(-5));
        assert_eq!(
            integer("abc"),
            Err("invalid literal for int() with base 10: 'abc'".into())
        );
        assert!(integer("1__0").is_err());
        assert!(integer("_1").is_err());
        assert!(integer("").is_err());
        assert_eq!(
            integer("99999999999999999999999"),
            Err("99999999999999999999999 is out of range (rinit's integers are 64-bit)".into())
        );
    }

    #[test]
    fn bools() {
        assert_eq!(boolean("Yes"), Ok(true));
        assert_eq!(boolean("off"), Ok(false));
        assert_eq!(boolean("maybe"), Err("not a valid boolean value: 'maybe'".into()));
    }

    #[test]
    fn sizes() {
        assert_eq!(byte_size("50MB"), Ok(52428800));
        assert_eq!(byte_size("10 KB"), Ok(10240));
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(
            byte_size("10XB"),
            Err("invalid literal for int() with base 10: '10xb'".into())
        );
        assert_eq!(
            byte_size("1.5MB"),
            Err("invalid literal for int() with base 10: '1.5'".into())
        );
    }

    #[test]
    fn octals() {
        assert_eq!(octal("022"), Ok(0o22));
        assert_eq!(octal("0o22"), Ok(0o22));
        assert_eq!(
            octal("999"),
            Err("999 can not be converted to an octal type".into())
        );
    }

    #[test]
    fn signals() {
        assert_eq!(signal_number("TERM"), Ok(15));
        assert_eq!(signal_number(" sigkill "), Ok(9));
        assert_eq!(signal_number("RTMIN"), Ok(34));
        assert_eq!(signal_number("9"), Ok(9));
        assert_eq!(
            signal_number("FOO"),
            Err("value 'FOO' is not a valid signal name".into())
        );
        assert_eq!(
            signal_number("40"),
            Err("value '40' is not a valid signal number".into())
        );
        assert_eq!(signal_name(6), Some("ABRT"));
        assert_eq!(signal_name(29), Some("IO"));
    }

    #[test]
    fn exitcodes() {
        assert_eq!(exit_codes("0, 2"), Ok(vec![0, 2]));
        assert_eq!(exit_codes(""), Ok(vec![]));
        for bad in ["0,256", "zero", "1,,2", "0;1", "-1"] {
            assert_eq!(
                exit_codes(bad),
                Err(format!("not a valid list of exit codes: '{bad}'"))
            );
        }
    }

    fn env(s: &str) -> Result<Vec<(String, String)>, String> {
        environment(s)
    }

    fn pairs(p: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        Ok(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn environment_lists() {
        assert_eq!(
            env("A=\"x y\",B=plain,C='single, quoted',D=with:colon/and.dot-plus+(paren),E=\"\""),
            pairs(&[
                ("A", "x y"),
                ("B", "plain"),
                ("C", "single, quoted"),
                ("D", "with:colon/and.dot-plus+(paren)"),
                ("E", "")
            ])
        );
        assert_eq!(env("A=1;B=2"), pairs(&[("A", "1"), ("B", "2")]));
        assert_eq!(env("A=$HOME"), pairs(&[("A", "$")]));
        assert_eq!(env("A=a b"), pairs(&[("A", "a")]));
        assert_eq!(env("A=x#y,B=2"), pairs(&[("A", "x")]));
        assert_eq!(env("A=1,"), pairs(&[("A", "1")]));
        assert_eq!(env("A =1"), pairs(&[("A", "1")]));
        for bad in ["A=1 B=2", "A=foo@bar", "A=x=y", "A=", "A=1,,B=2", "A=1,B"] {
            assert_eq!(
                env(bad),
                Err(format!("Unexpected end of key/value pairs in value '{bad}'"))
            );
        }
        assert_eq!(env("A=\"open"), Err("No closing quotation".into()));
    }

    #[test]
    fn names() {
        assert_eq!(process_or_group_name(" a "), Ok("a".into()));
        assert_eq!(
            process_or_group_name("a b"),
            Err("Invalid name: 'a b' because of character: ' '".into())
        );
        assert_eq!(
            process_or_group_name("a:b"),
            Err("Invalid name: 'a:b' because of character: ':'".into())
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(inet_address("127.0.0.1:9001"), Ok(("127.0.0.1".into(), 9001)));
        assert_eq!(inet_address("*:9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address("9001"), Ok(("".into(), 9001)));
    }

    #[test]
    fn entry_points() {
        assert!(entry_point("supervisor.rpcinterface:make_main_rpcinterface").is_ok());
        assert!(entry_point("supervisor_stdout:event_handler").is_ok());
        assert!(entry_point("not valid!").is_err());
    }
}

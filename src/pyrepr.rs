//! Python's `repr()` of a `str`: supervisord formats names and values with
//! `%r` in its messages (`not a valid boolean value: 'maybe'`, `can't find
//! command '…'`), and users and log tooling compare those texts.

/// `repr(s)` as Python 3 prints it.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if py_printable(c) => out.push(c),
            c => {
                let v = c as u32;
                if v <= 0xff {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v <= 0xffff {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// `repr(b)` of a Python `bytes` value: supervisord renders output that is
/// not UTF-8 this way (`Undecodable: b'\xff'`).
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(b.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// Python's `str.isprintable()` for one character. Exact for ASCII and
/// Latin-1; beyond that it knows the separators, format characters and
/// private-use ranges that realistically appear in a config file, and
/// treats the rest as printable (a wrong guess only changes how an error
/// message quotes an exotic character).
fn py_printable(c: char) -> bool {
    let v = c as u32;
    !matches!(v,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2
        | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0xf0000..=0x10ffff | 0xe0001 | 0xe0020..=0xe007f
    )
}

#[cfg(test)]
mod tests {
    use super::{bytes_repr, repr};

    #[test]
    fn bytes_repr_matches_python() {
        assert_eq!(bytes_repr(b"a\xffb\n"), "b'a\\xffb\\n'");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"'\""), "b'\\'\"'");
        assert_eq!(bytes_repr(b"\\\t\r\x7f"), "b'\\\\\\t\\r\\x7f'");
    }

    #[test]
    fn quotes_like_python() {
        assert_eq!(repr("maybe"), "'maybe'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(repr("x\n\\"), "'x\\n\\\\'");
        assert_eq!(repr("\u{1}é"), "'\\x01é'");
    }

    #[test]
    fn repr_matches_python() {
        // Expected values produced by python3 repr().
        let cases: &[(&str, &str)] = &[
            ("abc", "'abc'"),
            ("it's", "\"it's\""),
            ("a\"b", "'a\"b'"),
            ("a'b\"c", "'a\\'b\"c'"),
            ("back\\slash", "'back\\\\slash'"),
            ("tab\tnl\ncr\r", "'tab\\tnl\\ncr\\r'"),
            ("\x01\x7f", "'\\x01\\x7f'"),
            ("caf\u{e9}", "'caf\u{e9}'"),
            ("\u{a0}\u{ad}", "'\\xa0\\xad'"),
            ("\u{2028}", "'\\u2028'"),
            ("\u{10ffff}", "'\\U0010ffff'"),
            ("snow\u{2603}", "'snow\u{2603}'"),
            ("", "''"),
        ];
        for (input, want) in cases {
            assert_eq!(&repr(input), want, "repr of {input:?}");
        }
    }
}

// ---- Python's int() (issue 10: the one parser both config and users use) ----

/// `str.isspace()`: Unicode White_Space plus the C0 separators 0x1c–0x1f.
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `int(s, radix)` (radix 10, or 8 with an optional `0o` prefix):
/// surrounding blanks, a sign, digits with single `_` between them. Python's
/// ints have no bound; a value past `i128` saturates there, which every
/// caller treats as "too large" anyway. `None`: Python raises `ValueError`.
pub fn py_int(s: &str, radix: u32) -> Option<i128> {
    // Nearly every value is plain digits: no blank, sign, prefix or `_`,
    // and few enough digits that no arithmetic can overflow.
    let b = s.as_bytes();
    let top = if radix == 8 { b'7' } else { b'9' };
    if (1..=18).contains(&b.len()) && b.iter().all(|c| (b'0'..=top).contains(c)) {
        let value = b
            .iter()
            .fold(0u64, |v, c| v * u64::from(radix) + u64::from(c - b'0'));
        return Some(i128::from(value));
    }
    let t = s.trim_matches(py_isspace);
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    let body = if radix == 8 {
        body.strip_prefix("0o")
            .or_else(|| body.strip_prefix("0O"))
            .map(|b| b.strip_prefix('_').unwrap_or(b))
            .unwrap_or(body)
    } else {
        body
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let mut value: i128 = 0;
    for c in body.chars().filter(|c| *c != '_') {
        let d = c.to_digit(radix)?;
        value = value
            .saturating_mul(i128::from(radix))
            .saturating_add(i128::from(d));
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod int_tests {
    use super::py_int;

    #[test]
    fn python_int_rules() {
        assert_eq!(py_int("12", 10), Some(12));
        assert_eq!(py_int(" +1_000\n", 10), Some(1000));
        assert_eq!(py_int("1__0", 10), None);
        assert_eq!(py_int("_1", 10), None);
        assert_eq!(py_int("1_", 10), None);
        assert_eq!(py_int("-0", 10), Some(0));
        assert_eq!(py_int("12a", 10), None);
        assert_eq!(py_int("", 10), None);
        assert_eq!(py_int("+", 10), None);
        assert_eq!(py_int("1.5", 10), None);
        assert_eq!(py_int("0o17", 8), Some(15));
        assert_eq!(py_int("0o_17", 8), Some(15));
        assert_eq!(py_int("022", 8), Some(18));
        assert_eq!(py_int("8", 8), None);
        assert_eq!(py_int("9223372036854775808", 10), Some(1 << 63));
        assert_eq!(py_int(&"9".repeat(100), 10), Some(i128::MAX));
        assert_eq!(py_int(&format!("-{}", "9".repeat(100)), 10), Some(-i128::MAX));
    }
}

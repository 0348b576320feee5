//! `%(name)s` expansion: Python's `str % dict`, as supervisord's `expand()`
//! applies it to option values, with Python's error texts.

use std::collections::BTreeMap;

use crate::pyrepr::repr;

/// A value an expansion name stands for (`process_num` and `numprocs` are ints).
#[derive(Debug, Clone, PartialEq)]
pub enum Name {
    Str(String),
    Int(i64),
}

/// The names available to one expansion; sorted, as the error lists them.
pub type Names = BTreeMap<String, Name>;

/// Why `%`-formatting failed.
#[derive(Debug, Clone, PartialEq)]
enum FmtError {
    /// `KeyError`: a name that is not in the dictionary.
    Key(String),
    /// Any other exception, with its text.
    Bad(String),
}

/// supervisord's `expand(s, expansions, name)`: the formatted text, or the
/// exact `ValueError` message.
pub fn expand(s: &str, names: &Names, what: &str) -> Result<String, String> {
    format(s, names).map_err(|e| match e {
        FmtError::Key(key) => format!(
            "Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}",
            repr(s),
            repr(what),
            repr(&key),
            names.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        FmtError::Bad(msg) => format!(
            "Format string {} for {} is badly formatted: {}",
            repr(s),
            repr(what),
            msg
        ),
    })
}

/// One conversion spec after the `%`.
#[derive(Default)]
struct Spec {
    left: bool,
    sign: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    prec: Option<usize>,
}

fn format(s: &str, names: &Names) -> Result<String, FmtError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(&c) = chars.get(pos) {
        pos += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(pos) == Some(&'%') {
            pos += 1;
            out.push('%');
            continue;
        }
        let (value, spec, conv, conv_at) = parse_spec(&chars, &mut pos, names)?;
        let Some(value) = value else {
            if !"sradiuxXoeEfFgGc".contains(conv) {
                // Python reports an unknown conversion before using the argument.
                return convert(&Name::Str(String::new()), &spec, conv, conv_at).map(|_| String::new());
            }
            return Err(FmtError::Bad(
                "rinit does not support a %-conversion without a (name); write %% for a literal %".into(),
            ));
        };
        out.push_str(&convert(&value, &spec, conv, conv_at)?);
    }
    Ok(out)
}

/// Parse `(key)`, flags, width, precision and the conversion character,
/// following CPython's `unicode_format_arg_parse`.
fn parse_spec(
    chars: &[char],
    pos: &mut usize,
    names: &Names,
) -> Result<(Option<Name>, Spec, char, usize), FmtError> {
    let mut value = None;
    if chars.get(*pos) == Some(&'(') {
        *pos += 1;
        let start = *pos;
        let mut depth = 1;
        while depth > 0 {
            match chars.get(*pos) {
                None => return Err(FmtError::Bad("incomplete format key".into())),
                Some(')') => depth -= 1,
                Some('(') => depth += 1,
                Some(_) => {}
            }
            *pos += 1;
        }
        let key: String = chars.get(start..*pos - 1).unwrap_or(&[]).iter().collect();
        match names.get(&key) {
            Some(v) => value = Some(v.clone()),
            None => return Err(FmtError::Key(key)),
        }
    }
    let incomplete = || FmtError::Bad("incomplete format".into());
    let mut spec = Spec::default();
    let next = |pos: &mut usize| -> Option<char> {
        let c = chars.get(*pos).copied();
        *pos += 1;
        c
    };
    let mut ch = next(pos).ok_or_else(incomplete)?;
    loop {
        match ch {
            '-' => spec.left = true,
            '+' => spec.sign = true,
            ' ' => spec.space = true,
            '#' => spec.alt = true,
            '0' => spec.zero = true,
            _ => break,
        }
        ch = next(pos).ok_or_else(incomplete)?;
    }
    if ch == '*' {
        return Err(FmtError::Bad("* wants int".into()));
    }
    while let Some(d) = ch.to_digit(10) {
        spec.width = spec.width.saturating_mul(10).saturating_add(d as usize);
        ch = next(pos).ok_or_else(incomplete)?;
    }
    if ch == '.' {
        let mut prec = 0usize;
        ch = next(pos).ok_or_else(incomplete)?;
        if ch == '*' {
            return Err(FmtError::Bad("* wants int".into()));
        }
        while let Some(d) = ch.to_digit(10) {
            prec = prec.saturating_mul(10).saturating_add(d as usize);
            ch = next(pos).ok_or_else(incomplete)?;
        }
        spec.prec = Some(prec);
    }
    if matches!(ch, 'h' | 'l' | 'L') {
        ch = next(pos).ok_or_else(incomplete)?;
    }
    Ok((value, spec, ch, *pos - 1))
}

fn convert(value: &Name, spec: &Spec, conv: char, at: usize) -> Result<String, FmtError> {
    let text = match (conv, value) {
        ('s', Name::Str(s)) => truncate(s, spec.prec),
        ('r' | 'a', Name::Str(s)) => truncate(&repr(s), spec.prec),
        ('s' | 'r' | 'a', Name::Int(n)) => truncate(&n.to_string(), spec.prec),
        ('d' | 'i' | 'u', Name::Int(n)) => return Ok(int_text(*n, 10, false, spec)),
        ('x', Name::Int(n)) => return Ok(int_text(*n, 16, false, spec)),
        ('X', Name::Int(n)) => return Ok(int_text(*n, 16, true, spec)),
        ('o', Name::Int(n)) => return Ok(int_text(*n, 8, false, spec)),
        ('d' | 'i' | 'u', Name::Str(_)) => {
            return Err(FmtError::Bad(format!(
                "%{conv} format: a real number is required, not str"
            )))
        }
        ('x' | 'X' | 'o', Name::Str(_)) => {
            return Err(FmtError::Bad(format!(
                "%{conv} format: an integer is required, not str"
            )))
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Name::Str(_)) => {
            return Err(FmtError::Bad("must be real number, not str".into()))
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Name::Int(n)) => float_text(*n, conv, spec),
        ('c', Name::Int(n)) => match u32::try_from(*n).ok().and_then(char::from_u32) {
            Some(c) => c.to_string(),
            None => return Err(FmtError::Bad("%c arg not in range(0x110000)".into())),
        },
        ('c', Name::Str(s)) if s.chars().count() == 1 => s.clone(),
        ('c', Name::Str(_)) => return Err(FmtError::Bad("%c requires int or char".into())),
        _ => {
            let shown = if (' '..='~').contains(&conv) { conv } else { '?' };
            return Err(FmtError::Bad(format!(
                "unsupported format character '{shown}' (0x{:x}) at index {at}",
                conv as u32
            )));
        }
    };
    Ok(pad(&text, spec, false))
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

/// Width padding; zero padding goes after the sign/prefix when `numeric`.
fn pad(text: &str, spec: &Spec, numeric: bool) -> String {
    let len = text.chars().count();
    if len >= spec.width {
        return text.to_string();
    }
    let fill = spec.width - len;
    if spec.left {
        return format!("{text}{}", " ".repeat(fill));
    }
    if numeric && spec.zero {
        let split = text.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let (head, tail) = text.split_at(split);
        return format!("{head}{}{tail}", "0".repeat(fill));
    }
    format!("{}{text}", " ".repeat(fill))
}

fn int_text(n: i64, radix: u32, upper: bool, spec: &Spec) -> String {
    let magnitude = n.unsigned_abs();
    let mut digits = match radix {
        16 if upper => format!("{magnitude:X}"),
        16 => format!("{magnitude:x}"),
        8 => format!("{magnitude:o}"),
        _ => magnitude.to_string(),
    };
    if let Some(p) = spec.prec {
        if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let prefix = match (spec.alt, radix, upper) {
        (true, 16, true) => "0X",
        (true, 16, false) => "0x",
        (true, 8, _) => "0o",
        _ => "",
    };
    let sign = if n < 0 {
        "-"
    } else if spec.sign {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let text = format!("{sign}{prefix}{digits}");
    if spec.zero && !spec.left && text.len() < spec.width {
        let fill = "0".repeat(spec.width - text.len());
        return format!("{sign}{prefix}{fill}{digits}");
    }
    pad(&text, spec, false)
}

/// Float conversions of an integer value; only `process_num`/`numprocs` get here.
fn float_text(n: i64, conv: char, spec: &Spec) -> String {
    let x = n as f64;
    let prec = spec.prec.unwrap_or(6);
    let text = match conv {
        'f' | 'F' => format!("{x:.prec$}"),
        'e' | 'E' => {
            let t = format!("{x:.prec$e}");
            let t = python_exponent(&t);
            if conv == 'E' {
                t.to_uppercase()
            } else {
                t
            }
        }
        _ => {
            let t = n.to_string();
            if conv == 'G' {
                t.to_uppercase()
            } else {
                t
            }
        }
    };
    let signed = if n >= 0 && spec.sign {
        format!("+{text}")
    } else {
        text
    };
    pad(&signed, spec, true)
}

/// Rust writes `5e0`; Python writes `5e+00`.
fn python_exponent(t: &str) -> String {
    match t.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut n = Names::new();
        n.insert("a".into(), Name::Str("xy".into()));
        n.insert("n".into(), Name::Int(5));
        n
    }

    fn f(s: &str) -> Result<String, String> {
        expand(s, &names(), "program:a.command")
    }

    #[test]
    fn python_compatible_results() {
        assert_eq!(f("%(a)-5s|").as_deref(), Ok("xy   |"));
        assert_eq!(f("%(n)05d").as_deref(), Ok("00005"));
        assert_eq!(f("%(n)02d").as_deref(), Ok("05"));
        assert_eq!(f("%(n)+d").as_deref(), Ok("+5"));
        assert_eq!(f("%(n)#x").as_deref(), Ok("0x5"));
        assert_eq!(f("%(n).3d").as_deref(), Ok("005"));
        assert_eq!(f("%(a).1s").as_deref(), Ok("x"));
        assert_eq!(f("%(n)5.2f").as_deref(), Ok(" 5.00"));
        assert_eq!(f("%(n)e").as_deref(), Ok("5.000000e+00"));
        assert_eq!(f("%(a)r").as_deref(), Ok("'xy'"));
        assert_eq!(f("%(n)-05d|").as_deref(), Ok("5    |"));
        assert_eq!(f("%(a)05s").as_deref(), Ok("   xy"));
        assert_eq!(f("100%%").as_deref(), Ok("100%"));
    }

    #[test]
    fn python_compatible_errors() {
        let bad = |s: &str, m: &str| {
            assert_eq!(
                f(s),
                Err(format!(
                    "Format string {} for 'program:a.command' is badly formatted: {m}",
                    repr(s)
                ))
            )
        };
        bad("sleep 100%", "incomplete format");
        bad("%5%", "unsupported format character '%' (0x25) at index 2");
        bad("%(a)%", "unsupported format character '%' (0x25) at index 4");
        bad("%(a", "incomplete format key");
        bad("%(a)", "incomplete format");
        bad("%(a)d", "%d format: a real number is required, not str");
        bad("%(a)x", "%x format: an integer is required, not str");
        bad("%(a)c", "%c requires int or char");
        bad("%(a)*s", "* wants int");
        bad("%(a)\u{1}", "unsupported format character '?' (0x1) at index 4");
        bad("%USER%", "unsupported format character 'U' (0x55) at index 1");
    }

    #[test]
    fn unknown_name_lists_available() {
        assert_eq!(
            f("sleep %(nosuch)s"),
            Err("Format string 'sleep %(nosuch)s' for 'program:a.command' contains names ('nosuch') which cannot be expanded. Available names: a, n".into())
        );
    }
}

//! `%(name)s` expansion: Python's `str % dict`, as supervisord's `expand()`
//! applies it to option values, with Python's error texts.

use std::collections::BTreeMap;

use crate::environ::Environ;
use crate::pyrepr::repr;

/// A value an expansion name stands for (`process_num` and `numprocs` are ints).
#[derive(Debug, Clone, PartialEq)]
pub enum Name {
    Str(String),
    Int(i64),
}

/// The names available to one expansion; sorted, as the error lists them.
pub type Names = BTreeMap<String, Name>;

/// A name's value as the formatter reads it, borrowed from where it lives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NameRef<'a> {
    Str(&'a str),
    Int(i64),
}

/// Where expansion names come from. The loader looks names up in a few
/// layers (fixed per-section names, a program's own `ENV_*`, the process
/// environment) instead of copying them into one map for every value and
/// every process (docs/config.md, "Load time").
pub trait Scope {
    fn lookup(&self, key: &str) -> Option<NameRef<'_>>;
    /// Every name this layer has: only the `KeyError` message lists them.
    fn names(&self) -> Vec<String>;
}

impl Scope for Names {
    fn lookup(&self, key: &str) -> Option<NameRef<'_>> {
        self.get(key).map(|v| match v {
            Name::Str(s) => NameRef::Str(s),
            Name::Int(n) => NameRef::Int(*n),
        })
    }

    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// The names supervisord's loader puts in by itself (`here`,
/// `program_name`, …), each present only where supervisord has it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fixed<'a> {
    pub here: Option<&'a str>,
    pub host_node_name: Option<&'a str>,
    pub program_name: Option<&'a str>,
    pub group_name: Option<&'a str>,
    pub process_num: Option<i64>,
    pub numprocs: Option<i64>,
}

impl Scope for Fixed<'_> {
    fn lookup(&self, key: &str) -> Option<NameRef<'_>> {
        match key {
            "here" => self.here.map(NameRef::Str),
            "host_node_name" => self.host_node_name.map(NameRef::Str),
            "program_name" => self.program_name.map(NameRef::Str),
            "group_name" => self.group_name.map(NameRef::Str),
            "process_num" => self.process_num.map(NameRef::Int),
            "numprocs" => self.numprocs.map(NameRef::Int),
            _ => None,
        }
    }

    fn names(&self) -> Vec<String> {
        [
            ("here", self.here.is_some()),
            ("host_node_name", self.host_node_name.is_some()),
            ("program_name", self.program_name.is_some()),
            ("group_name", self.group_name.is_some()),
            ("process_num", self.process_num.is_some()),
            ("numprocs", self.numprocs.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(k, _)| k.to_string())
        .collect()
    }
}

/// `ENV_X` for every `X=…` of rinit's environment updated by a list, read
/// in place: the list wins, and a later entry in it (Python's `dict.update`).
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub host: &'a Environ,
    pub overrides: &'a [(String, String)],
}

impl Scope for Env<'_> {
    fn lookup(&self, key: &str) -> Option<NameRef<'_>> {
        let name = key.strip_prefix("ENV_")?;
        self.overrides
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.host.get(name))
            .map(NameRef::Str)
    }

    fn names(&self) -> Vec<String> {
        self.host
            .iter()
            .chain(self.overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map(|(k, _)| format!("ENV_{k}"))
            .collect()
    }
}

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
pub fn expand(s: &str, names: &dyn Scope, what: &str) -> Result<String, String> {
    expand_in(s, &[names], what)
}

/// `expand` over the union of `layers`, the first layer that has a name
/// winning: the loader's per-section names over the `ENV_*` names, without
/// copying the environment into every section's map (docs/config.md,
/// "Load time").
pub fn expand_in(s: &str, layers: &[&dyn Scope], what: &str) -> Result<String, String> {
    expand_named(s, layers, || what.to_string())
}

/// `expand_in` with the value's name (only the error message needs it)
/// made only when there is an error.
pub fn expand_named(s: &str, layers: &[&dyn Scope], what: impl FnOnce() -> String) -> Result<String, String> {
    format(s, layers).map_err(|e| match e {
        FmtError::Key(key) => {
            let available: std::collections::BTreeSet<String> =
                layers.iter().flat_map(|l| l.names()).collect();
            format!(
                "Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}",
                repr(s),
                repr(&what()),
                repr(&key),
                available.into_iter().collect::<Vec<_>>().join(", ")
            )
        }
        FmtError::Bad(msg) => format!(
            "Format string {} for {} is badly formatted: {}",
            repr(s),
            repr(&what()),
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

/// How many characters the widths and precisions of one value may ask for,
/// in total. Python has no limit short of memory; rinit, as PID 1, must not
/// let one config value allocate gigabytes or abort (docs/config.md,
/// "Expansion limits"). 1 MiB is far above any real padding (supervisord's
/// accepted `%(process_num).70000f` costs 70,000) and small enough that even
/// thousands of expanded values stay bounded.
pub const PADDING_BUDGET: usize = 1 << 20;

fn format(s: &str, names: &[&dyn Scope]) -> Result<String, FmtError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut budget = PADDING_BUDGET;
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
                return convert(NameRef::Str(""), &spec, conv, conv_at).map(|_| String::new());
            }
            return Err(FmtError::Bad(
                "rinit does not support a %-conversion without a (name); write %% for a literal %".into(),
            ));
        };
        let Some(left) = budget.checked_sub(spec.cost(conv)) else {
            // Python would first refuse a wrong type (`%d` of a string).
            convert(value, &Spec::default(), conv, conv_at)?;
            return Err(FmtError::Bad(format!(
                "widths and precisions in one value may add up to {PADDING_BUDGET} at most (rinit's limit)"
            )));
        };
        budget = left;
        match value {
            // The common case, `%(name)s` of a string: no copies on the way.
            NameRef::Str(v) if conv == 's' && spec.width == 0 && spec.prec.is_none() => out.push_str(v),
            _ => out.push_str(&convert(value, &spec, conv, conv_at)?),
        }
    }
    Ok(out)
}

impl Spec {
    /// The characters this spec may add beyond the value's own text: its
    /// width, and its precision where precision adds digits (numbers; `%g`
    /// only with `#`, since it strips trailing zeros otherwise).
    fn cost(&self, conv: char) -> usize {
        let prec = match conv {
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' | 'e' | 'E' | 'f' | 'F' => self.prec.unwrap_or(0),
            'g' | 'G' if self.alt => self.prec.unwrap_or(0),
            _ => 0,
        };
        self.width.max(prec)
    }
}

/// Parse `(key)`, flags, width, precision and the conversion character,
/// following CPython's `unicode_format_arg_parse`.
fn parse_spec<'n>(
    chars: &[char],
    pos: &mut usize,
    names: &[&'n dyn Scope],
) -> Result<(Option<NameRef<'n>>, Spec, char, usize), FmtError> {
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
        match names.iter().find_map(|layer| layer.lookup(&key)) {
            Some(v) => value = Some(v),
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
    // CPython's limits: a width must fit a Py_ssize_t, a precision a C int.
    while let Some(d) = ch.to_digit(10) {
        spec.width = spec
            .width
            .checked_mul(10)
            .and_then(|w| w.checked_add(d as usize))
            .filter(|w| *w <= i64::MAX as usize)
            .ok_or_else(|| FmtError::Bad("width too big".into()))?;
        ch = next(pos).ok_or_else(incomplete)?;
    }
    if ch == '.' {
        let mut prec = 0usize;
        ch = next(pos).ok_or_else(incomplete)?;
        if ch == '*' {
            return Err(FmtError::Bad("* wants int".into()));
        }
        while let Some(d) = ch.to_digit(10) {
            prec = prec
                .checked_mul(10)
                .and_then(|p| p.checked_add(d as usize))
                .filter(|p| *p <= i32::MAX as usize)
                .ok_or_else(|| FmtError::Bad("precision too big".into()))?;
            ch = next(pos).ok_or_else(incomplete)?;
        }
        spec.prec = Some(prec);
    }
    if matches!(ch, 'h' | 'l' | 'L') {
        ch = next(pos).ok_or_else(incomplete)?;
    }
    Ok((value, spec, ch, *pos - 1))
}

fn convert(value: NameRef<'_>, spec: &Spec, conv: char, at: usize) -> Result<String, FmtError> {
    let text = match (conv, value) {
        ('s', NameRef::Str(s)) => truncate(s, spec.prec),
        ('r' | 'a', NameRef::Str(s)) => truncate(&repr(s), spec.prec),
        ('s' | 'r' | 'a', NameRef::Int(n)) => truncate(&n.to_string(), spec.prec),
        ('d' | 'i' | 'u', NameRef::Int(n)) => return Ok(int_text(n, 10, false, spec)),
        ('x', NameRef::Int(n)) => return Ok(int_text(n, 16, false, spec)),
        ('X', NameRef::Int(n)) => return Ok(int_text(n, 16, true, spec)),
        ('o', NameRef::Int(n)) => return Ok(int_text(n, 8, false, spec)),
        ('d' | 'i' | 'u', NameRef::Str(_)) => {
            return Err(FmtError::Bad(format!(
                "%{conv} format: a real number is required, not str"
            )))
        }
        ('x' | 'X' | 'o', NameRef::Str(_)) => {
            return Err(FmtError::Bad(format!(
                "%{conv} format: an integer is required, not str"
            )))
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', NameRef::Str(_)) => {
            return Err(FmtError::Bad("must be real number, not str".into()))
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', NameRef::Int(n)) => float_text(n, conv, spec),
        ('c', NameRef::Int(n)) => match u32::try_from(n).ok().and_then(char::from_u32) {
            Some(c) => c.to_string(),
            None => return Err(FmtError::Bad("%c arg not in range(0x110000)".into())),
        },
        ('c', NameRef::Str(s)) if s.chars().count() == 1 => s.to_string(),
        ('c', NameRef::Str(_)) => return Err(FmtError::Bad("%c requires int or char".into())),
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

/// Float conversions of an integer value; only `process_num`/`numprocs` get
/// here. Rust's formatter caps precision at 65,535 and an integer-valued
/// double has at most 20 significant digits, so digits past that are zeros
/// written here rather than asked of `format!`.
fn float_text(n: i64, conv: char, spec: &Spec) -> String {
    let x = n as f64;
    let prec = spec.prec.unwrap_or(6);
    let mut text = match conv {
        'f' | 'F' => fixed(x, prec, spec.alt),
        'e' | 'E' => exponent(x, prec, spec.alt),
        _ => general(x, prec, spec.alt),
    };
    if conv.is_ascii_uppercase() {
        text = text.to_uppercase();
    }
    let signed = if n < 0 {
        text
    } else if spec.sign {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    };
    pad(&signed, spec, true)
}

/// `%.{prec}f` of an integer-valued double: its digits, then zeros.
fn fixed(x: f64, prec: usize, alt: bool) -> String {
    let mut t = format!("{x:.0}");
    if prec > 0 || alt {
        t.push('.');
    }
    t.push_str(&"0".repeat(prec));
    t
}

/// `%.{prec}e` of an integer-valued double, with Python's `e+NN` exponent.
fn exponent(x: f64, prec: usize, alt: bool) -> String {
    const EXACT: usize = 24;
    let p = prec.min(EXACT);
    let t = format!("{x:.p$e}");
    let (mantissa, exp) = t.split_once('e').unwrap_or((&t, "0"));
    let mut m = mantissa.to_string();
    if prec > p {
        m.push_str(&"0".repeat(prec - p));
    }
    if prec == 0 && alt {
        m.push('.');
    }
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{m}e{sign}{digits:0>2}")
}

/// `%.{prec}g`: `e` or `f` by the exponent, trailing zeros stripped unless `#`.
fn general(x: f64, prec: usize, alt: bool) -> String {
    // Without `#` the zeros past 20 significant digits are stripped anyway.
    let prec = if alt { prec.max(1) } else { prec.clamp(1, 40) };
    let e = exponent(x, prec - 1, false);
    let exp: i64 = e.rsplit_once('e').and_then(|(_, d)| d.parse().ok()).unwrap_or(0);
    let mut t = if exp >= -4 && (exp as i128) < prec as i128 {
        let decimals = usize::try_from(prec as i64 - 1 - exp).unwrap_or(0);
        fixed(x, decimals, alt)
    } else {
        exponent(x, prec - 1, alt)
    };
    if !alt {
        let (m, tail) = match t.find('e') {
            Some(i) => t.split_at(i),
            None => (t.as_str(), ""),
        };
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        t = format!("{m}{tail}");
    }
    t
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

    /// Python 3.11's `%` on the same values (`n`=5, `b`=1234567, `m`=-42, `z`=0).
    #[test]
    fn float_conversions_match_python() {
        let mut n = names();
        n.insert("b".into(), Name::Int(1234567));
        n.insert("m".into(), Name::Int(-42));
        n.insert("z".into(), Name::Int(0));
        n.insert("big".into(), Name::Int(i64::MAX));
        let g = |s: &str| expand(s, &n, "x").unwrap_or_else(|e| e);
        for (spec, want) in [
            ("%(n)#.0f", "5."),
            ("%(n)#.0e", "5.e+00"),
            ("%(n)g", "5"),
            ("%(n).0g", "5"),
            ("%(n)#g", "5.00000"),
            ("%(n)#.3g", "5.00"),
            ("%(b)g", "1.23457e+06"),
            ("%(b).3g", "1.23e+06"),
            ("%(b)#.10g", "1234567.000"),
            ("%(b).2e", "1.23e+06"),
            ("%(b)#.0f", "1234567."),
            ("%(z)g", "0"),
            ("%(z)#g", "0.00000"),
            ("%(z).3e", "0.000e+00"),
            ("%(m)g", "-42"),
            ("%(m).3e", "-4.200e+01"),
            ("%(m)+g", "-42"),
            ("%(n)+.2e", "+5.00e+00"),
            ("%(n)010.2f", "0000005.00"),
            ("%(m)010.2f", "-000042.00"),
            ("%(n) f", " 5.000000"),
            ("%(b)12.4g", "   1.235e+06"),
            ("%(big)g", "9.22337e+18"),
            ("%(big).25e", "9.2233720368547758080000000e+18"),
            ("%(big)f", "9223372036854775808.000000"),
            ("%(big).30g", "9223372036854775808"),
            ("%(n)-8.1fX", "5.0     X"),
            ("%(n)G", "5"),
            ("%(b)G", "1.23457E+06"),
            ("%(n)E", "5.000000E+00"),
        ] {
            assert_eq!(g(spec), want, "{spec}");
        }
    }

    /// Issue 9 item 1: these aborted rinit (SIGABRT/SIGSEGV) or grew past
    /// 6 GB. Python accepts `.70000f`; it refuses the others, or would need
    /// gigabytes, which rinit refuses with its own limit.
    #[test]
    fn huge_width_or_precision_does_not_crash() {
        let one = |s: &str| expand(s, &names(), "x");
        let long = one("%(n).70000f").expect("python accepts it");
        assert_eq!(long.len(), 70002);
        assert!(long.starts_with("5.000") && long.ends_with("000"));
        let e70000 = one("%(n).70000e").expect("python accepts it");
        assert_eq!(e70000.len(), 70006);
        assert!(e70000.ends_with("0e+00"));
        let bad = |s: &str, m: &str| {
            assert_eq!(
                one(s),
                Err(format!(
                    "Format string {} for 'x' is badly formatted: {m}",
                    repr(s)
                ))
            )
        };
        let limit = "widths and precisions in one value may add up to 1048576 at most (rinit's limit)";
        bad("%(n).4294967296e", "precision too big");
        bad("%(n).9999999999d", "precision too big");
        bad("%(n).2147483648d", "precision too big");
        bad("%(a)99999999999999999999s", "width too big");
        bad("%(n)9223372036854775808d", "width too big");
        bad("%(n)099999999999d", limit);
        bad("%(n)9223372036854775807d", limit);
        bad("%(n).2147483647d", limit);
        bad("%(n)1048577d", limit);
        bad("%(a)2000000d", "%d format: a real number is required, not str");
        bad(&"%(n)600000d".repeat(2), limit);
        assert_eq!(one("%(n)1048576d").map(|s| s.len()), Ok(1048576));
        // Precision that only truncates or strips costs nothing, as in Python.
        assert_eq!(one("%(a).99999999s").as_deref(), Ok("xy"));
        assert_eq!(one("%(n).99999999g").as_deref(), Ok("5"));
    }

    #[test]
    fn unknown_name_lists_available() {
        assert_eq!(
            f("sleep %(nosuch)s"),
            Err("Format string 'sleep %(nosuch)s' for 'program:a.command' contains names ('nosuch') which cannot be expanded. Available names: a, n".into())
        );
    }
}

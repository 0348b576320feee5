//! supervisord's INI dialect: Python 3.11 `RawConfigParser` with
//! `inline_comment_prefixes=(';','#')` and `strict=False`, rule for rule.
//!
//! The store (`Ini`) plays the part of the parser object: several files are
//! read into it one after the other, repeated sections merge and the last
//! value of a key wins, exactly as `parser.read()` does for `[include]`.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: the config is the operator's own input, so a keyed hash buys
/// nothing here, and SipHash was a tenth of the load time.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Index = HashMap<Key, usize, BuildHasherDefault<Fnv>>;

/// An option's name: a known key's `'static` text (nearly all; see
/// `lint::known_key`), else its own copy.
pub type Key = Cow<'static, str>;
type SectionIndex = HashMap<Rc<str>, usize, BuildHasherDefault<Fnv>>;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A value's text: a piece of the text of the file it was read from
/// (nearly every value: no copy of its own to make and free), or its own
/// string once changed (continuation lines, `%(here)s`). Reads as a `str`.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Piece { file: Rc<str>, start: usize, end: usize },
    Own(String),
}

impl Text {
    /// `piece`, a piece of `file`'s text (else a copy of it).
    fn piece(file: &Rc<str>, piece: &str) -> Text {
        // Where `piece` starts in `file`: it lies inside the allocation or
        // wholly outside it (allocations do not overlap), which `get` sees.
        let start = (piece.as_ptr() as usize).checked_sub(file.as_ptr() as usize);
        match start.and_then(|s| Some((s, s.checked_add(piece.len())?))) {
            Some((start, end)) if file.get(start..end).is_some() => Text(Repr::Piece {
                file: Rc::clone(file),
                start,
                end,
            }),
            _ => Text(Repr::Own(piece.to_owned())),
        }
    }

    /// Join `newlines` line ends and `piece` to the text (a continuation
    /// line): from here on it is a string of its own.
    fn append(&mut self, newlines: usize, piece: &str) {
        let mut own = match std::mem::replace(&mut self.0, Repr::Own(String::new())) {
            Repr::Own(s) => s,
            Repr::Piece { file, start, end } => file.get(start..end).unwrap_or("").to_owned(),
        };
        own.reserve(newlines.saturating_add(piece.len()));
        own.extend(std::iter::repeat_n('\n', newlines));
        own.push_str(piece);
        self.0 = Repr::Own(own);
    }

    /// Keep the first `len` bytes (a character boundary).
    fn truncate(&mut self, len: usize) {
        match &mut self.0 {
            Repr::Piece { start, end, .. } => *end = start.saturating_add(len).min(*end),
            Repr::Own(s) => s.truncate(len),
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match &self.0 {
            Repr::Piece { file, start, end } => file.get(*start..*end).unwrap_or(""),
            Repr::Own(s) => s,
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Repr::Own(s))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// One option value with the place its key line was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: Text,
    pub file: Rc<Path>,
    pub line: usize,
}

/// A section: keys in first-insertion order (Python dicts keep that order),
/// with a hash index so that a lookup costs the same for the 1st key and the
/// 100,000th (docs/config.md, "Load time").
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Shared with `Ini`'s index and with the loader's lists of sections
    /// (a name is compared by address first, see `Ini::section`).
    pub name: Rc<str>,
    /// Read-only outside this module: `set` keeps `index` in step with it.
    pub keys: Vec<(Key, Value)>,
    index: Index,
    /// One bit per `key_bit` of the keys stored: the loader asks each
    /// section for some 40 keys and finds few, and an unset bit answers
    /// "absent" without comparing any name.
    mask: u128,
    /// Where the header was first seen (for messages about the section).
    pub file: Rc<Path>,
    pub line: usize,
}

impl Section {
    fn new(name: Rc<str>, file: Rc<Path>, line: usize) -> Self {
        Section {
            name,
            keys: Vec::new(),
            index: Index::default(),
            mask: 0,
            file,
            line,
        }
    }
}

impl Default for Section {
    fn default() -> Self {
        Section::new(Rc::from(""), Rc::from(Path::new("")), 0)
    }
}

/// String equality eight bytes at a time: the loader compares short names
/// millions of times, and musl's `memcmp` goes byte by byte.
#[inline]
pub(super) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        if word(x) != word(y) {
            return false;
        }
    }
    ca.remainder().iter().zip(cb.remainder()).all(|(x, y)| x == y)
}

/// Up to this many keys a section is searched in order: cheaper than
/// hashing, and most sections are that small.
const INDEX_FROM: usize = 8;

/// A key's slot (0–127), its bit in `Section::mask`: its length and the
/// bytes at 0, 3, 7 and the end (where the known keys differ: `stdout_`/
/// `stderr_`, `capture`/`logfile`/`events`/`syslog`), mixed by one
/// multiplication. The factor was searched for: the keys of a program-like
/// section all get different slots, and so do `[supervisord]`'s (`lint`
/// builds its tables on that at compile time), so a key that is not set is
/// nearly always answered by the mask alone.
#[inline]
pub(super) const fn key_slot(key: &str) -> u32 {
    // The byte at `i`, or the last one for a shorter key (0 for "").
    const fn at(b: &[u8], i: usize) -> u64 {
        if i < b.len() {
            b[i] as u64
        } else if let Some(last) = b.last() {
            *last as u64
        } else {
            0
        }
    }
    let b = key.as_bytes();
    let features =
        (b.len() as u64) | at(b, 0) << 8 | at(b, usize::MAX) << 16 | at(b, 3) << 24 | at(b, 7) << 32;
    (features.wrapping_mul(0x5381_a7b3_867a_d8c5) >> 57) as u32
}

#[inline]
fn key_bit(key: &str) -> u128 {
    1u128 << key_slot(key)
}

/// `optionxform` (`str.lower()`) of a key, and its `key_bit`; `lower`:
/// it is ASCII without capitals already. A known key costs no allocation.
fn option_name(key: &str, lower: bool) -> (Key, u128) {
    if !lower {
        let key = if key.is_ascii() {
            key.to_ascii_lowercase()
        } else {
            key.to_lowercase()
        };
        let bit = key_bit(&key);
        return (Cow::Owned(key), bit);
    }
    let slot = key_slot(key);
    let key = match super::lint::known_key(key, slot) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(key.to_owned()),
    };
    (key, 1u128 << slot)
}

impl Section {
    /// Inline: the loader asks for some 40 keys per section with literal
    /// names, most of them absent, and the mask test then folds to a
    /// constant bit and one `and`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        if self.mask & key_bit(key) == 0 {
            return None;
        }
        self.lookup(key)
    }

    fn lookup(&self, key: &str) -> Option<&Value> {
        let i = self.position(key)?;
        self.keys.get(i).map(|(_, v)| v)
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.keys.len() <= INDEX_FROM {
            self.keys.iter().position(|(k, _)| same(k, key))
        } else {
            self.index.get(key).copied()
        }
    }

    /// Store `value`; returns the key's position.
    /// `bit` is the key's `key_bit`.
    fn set(&mut self, key: Key, bit: u128, value: Value) -> usize {
        let maybe_present = self.mask & bit != 0;
        if let Some(i) = maybe_present.then(|| self.position(&key)).flatten() {
            if let Some(slot) = self.keys.get_mut(i) {
                slot.1 = value;
                return i;
            }
        }
        let i = self.keys.len();
        if i == INDEX_FROM {
            self.index = self
                .keys
                .iter()
                .enumerate()
                .map(|(n, (k, _))| (k.clone(), n))
                .collect();
        }
        if i >= INDEX_FROM {
            self.index.insert(key.clone(), i);
        }
        self.mask |= bit;
        self.keys.push((key, value));
        i
    }
}

/// The parser state: `[DEFAULT]` plus the named sections in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ini {
    pub defaults: Section,
    /// Read-only outside this module (see `index`).
    pub sections: Vec<Section>,
    /// Section name → position in `sections`, once there are more than
    /// `INDEX_FROM` of them (fewer are searched in order, like keys).
    index: SectionIndex,
    /// The section found last, and the one before: the loader asks for one
    /// section's keys in a row (now and then one of `[supervisord]`'s), and
    /// comparing a name is cheaper than hashing it.
    last: Cell<usize>,
    prev: Cell<usize>,
    /// Values stored since the last `expand_here` (`None` = `[DEFAULT]`),
    /// and how many sections existed then: `expand_here` only needs to look
    /// at what changed, not at every value after every included file.
    dirty: Vec<(Option<usize>, usize)>,
    sections_before: usize,
    /// The last `here` itself contained `%(here)s`: everything is rescanned.
    rescan: bool,
}

/// An INI syntax error, with configparser's message text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub file: PathBuf,
    pub line: usize,
}

const DEFAULT_SECTION: &str = "DEFAULT";

impl Ini {
    #[inline(always)]
    pub fn section(&self, name: &str) -> Option<&Section> {
        if let Some(s) = self.sections.get(self.last.get()) {
            // The loader mostly passes a section's own name (a clone of the
            // `Rc` from `section_names`): the same address is the same text.
            if std::ptr::eq(&*s.name, name) {
                return Some(s);
            }
        }
        self.section_named(name)
    }

    fn section_named(&self, name: &str) -> Option<&Section> {
        let (last, prev) = (self.last.get(), self.prev.get());
        if let Some(s) = self.sections.get(last) {
            if same(&s.name, name) {
                return Some(s);
            }
        }
        if let Some(s) = self.sections.get(prev) {
            if std::ptr::eq(&*s.name, name) || same(&s.name, name) {
                self.last.set(prev);
                self.prev.set(last);
                return Some(s);
            }
        }
        let i = self.find(name)?;
        self.prev.set(last);
        self.last.set(i);
        self.sections.get(i)
    }

    fn find(&self, name: &str) -> Option<usize> {
        if self.sections.len() <= INDEX_FROM {
            self.sections
                .iter()
                .position(|s| std::ptr::eq(&*s.name, name) || same(&s.name, name))
        } else {
            self.index.get(name).copied()
        }
    }

    /// Append a section (its name is not there yet); returns its position.
    fn add_section(&mut self, name: &str, file: Rc<Path>, line: usize) -> usize {
        let name: Rc<str> = Rc::from(name);
        let i = self.sections.len();
        if i == INDEX_FROM {
            self.index = self
                .sections
                .iter()
                .enumerate()
                .map(|(n, s)| (Rc::clone(&s.name), n))
                .collect();
        }
        if i >= INDEX_FROM {
            self.index.insert(Rc::clone(&name), i);
        }
        self.sections.push(Section::new(name, file, line));
        i
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    pub fn section_names(&self) -> Vec<Rc<str>> {
        self.sections.iter().map(|s| Rc::clone(&s.name)).collect()
    }

    /// `parser.get(section, key)`: the section's own value, else `[DEFAULT]`'s.
    #[inline]
    pub fn get(&self, section: &str, key: &str) -> Option<&Value> {
        self.section(section)
            .and_then(|s| s.get(key))
            .or_else(|| self.defaults.get(key))
    }

    /// Whether `get(section, key)` can find anything: `false` is certain.
    /// Inline with a literal key, it costs a few instructions.
    #[inline(always)]
    pub fn may_have(&self, section: &str, key: &str) -> bool {
        let bit = key_bit(key);
        self.defaults.mask & bit != 0 || self.section(section).is_some_and(|s| s.mask & bit != 0)
    }

    /// `parser.options(section)`: `[DEFAULT]` keys first, then the section's.
    pub fn options(&self, section: &str) -> Vec<String> {
        let mut out: Vec<String> = self.defaults.keys.iter().map(|(k, _)| k.to_string()).collect();
        if let Some(s) = self.section(section) {
            for (k, _) in &s.keys {
                if self.defaults.get(k).is_none() {
                    out.push(k.to_string());
                }
            }
        }
        out
    }

    /// Store a value and remember it for the next `expand_here`.
    /// Returns the value's position in its section.
    fn set(&mut self, section: Option<usize>, key: Key, bit: u128, value: Value) -> Option<usize> {
        let target = match section {
            None => &mut self.defaults,
            Some(i) => self.sections.get_mut(i)?,
        };
        let at = target.set(key, bit, value);
        // A section added since the last `expand_here` is scanned whole by
        // the next one: only `[DEFAULT]` and older sections need the list.
        if section.is_none_or(|i| i < self.sections_before) {
            self.dirty.push((section, at));
        }
        Some(at)
    }

    fn value_mut(&mut self, section: Option<usize>, at: usize) -> Option<&mut Value> {
        let target = match section {
            None => &mut self.defaults,
            Some(i) => self.sections.get_mut(i)?,
        };
        target.keys.get_mut(at).map(|(_, v)| v)
    }

    /// supervisord's `expand_here`: literal `%(here)s` text in every section
    /// (defaults included, materialized into the section) becomes `here`.
    /// supervisord rescans everything after each included file; text already
    /// replaced has no `%(here)s` left, so only values stored since the last
    /// call, new sections and new defaults can change: the same result in
    /// time proportional to what the file added.
    pub fn expand_here(&mut self, here: &str) {
        const HERE: &str = "%(here)s";
        let dirty = std::mem::take(&mut self.dirty);
        let rescan = self.rescan;
        self.rescan = here.contains(HERE);
        let old = if rescan { 0 } else { self.sections_before };
        self.sections_before = self.sections.len();
        let fresh: HashSet<usize> = dirty
            .iter()
            .filter(|(s, _)| s.is_none())
            .map(|(_, k)| *k)
            .collect();
        // Defaults with `%(here)s`, and whether they were stored since the
        // last call (then old sections get them too).
        let here_defaults: Vec<(&Key, &Value, bool)> = self
            .defaults
            .keys
            .iter()
            .enumerate()
            .filter(|(_, (_, v))| v.text.contains(HERE))
            .map(|(i, (k, v))| (k, v, fresh.contains(&i)))
            .collect();
        let first = if here_defaults.iter().any(|(_, _, f)| *f) {
            0
        } else {
            old
        };
        for (index, section) in self.sections.iter_mut().enumerate().skip(first) {
            let new = index >= old;
            for (key, value, fresh) in &here_defaults {
                if (new || *fresh) && section.get(key).is_none() {
                    let mut v = (*value).clone();
                    v.text = v.text.replace(HERE, here).into();
                    section.set((*key).clone(), key_bit(key), v);
                }
            }
            if new {
                for (_, value) in section.keys.iter_mut() {
                    if value.text.contains(HERE) {
                        value.text = value.text.replace(HERE, here).into();
                    }
                }
            }
        }
        for (section, key) in dirty {
            // A section from `old` on was scanned whole above: replacing
            // again would expand a `here` that contains `%(here)s` twice.
            let Some(s) = section
                .filter(|i| *i < old)
                .and_then(|i| self.sections.get_mut(i))
            else {
                continue;
            };
            if let Some((_, value)) = s.keys.get_mut(key) {
                if value.text.contains(HERE) {
                    value.text = value.text.replace(HERE, here).into();
                }
            }
        }
    }

    /// Read one file's text into the store (`RawConfigParser._read`).
    /// `source` is the name configparser puts in its messages.
    pub fn read(&mut self, text: &str, source: &Path) -> Result<(), ParseError> {
        // One shared copy of the text: the values are pieces of it.
        let file: Rc<str> = Rc::from(universal_newlines(text).as_ref());
        let mut reader = Reader::new(self, source, Rc::clone(&file));
        // `split_inclusive('\n')`, noting on the way whether a line can
        // hold a comment at all.
        let mut rest: &str = &file;
        let mut lineno = 0;
        while !rest.is_empty() {
            lineno += 1;
            let (end, marked) = line_end(rest.as_bytes());
            // `end` follows a `\n` or is the end: a character boundary.
            let Some((line, tail)) = rest.split_at_checked(end) else {
                break;
            };
            reader.line(lineno, line, marked)?;
            rest = tail;
        }
        reader.finish()
    }
}

/// Python's text mode: `\r\n` and lone `\r` both end a line.
fn universal_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    }
}

/// `str.isspace()` (its home is `pyrepr`, beside `int()`).
pub use crate::pyrepr::py_isspace;

/// `str.strip()` with Python's notion of whitespace.
#[inline]
pub fn py_strip(s: &str) -> &str {
    py_trim_end(py_trim_start(s))
}

/// ASCII bytes `str.isspace()` is true for (`py_isspace` of an ASCII char).
#[inline]
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=b' ')
}

/// `str.lstrip()`: ASCII bytes a byte at a time (nearly all text), by
/// characters from a non-ASCII one on.
#[inline]
pub fn py_trim_start(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|c| !ascii_space(*c)).unwrap_or(b.len());
    // Only ASCII bytes lie before `start`: a character boundary.
    let rest = s.get(start..).unwrap_or("");
    match b.get(start) {
        Some(c) if !c.is_ascii() => rest.trim_start_matches(py_isspace),
        _ => rest,
    }
}

/// `str.rstrip()`, the same way from the end.
#[inline]
pub fn py_trim_end(s: &str) -> &str {
    let b = s.as_bytes();
    let end = b.iter().rposition(|c| !ascii_space(*c)).map_or(0, |i| i + 1);
    // Only ASCII bytes lie from `end` on: a character boundary.
    let head = s.get(..end).unwrap_or("");
    match end.checked_sub(1).and_then(|i| b.get(i)) {
        Some(c) if !c.is_ascii() => head.trim_end_matches(py_isspace),
        _ => head,
    }
}

/// The per-file state of `_read`.
struct Reader<'a> {
    ini: &'a mut Ini,
    /// One shared copy of the file name for every value read from it.
    source: Rc<Path>,
    /// The file's text, which the values are pieces of.
    file: Rc<str>,
    /// `cursect`: None before any header; Some(None) is `[DEFAULT]`.
    cursect: Option<Option<usize>>,
    /// Where the value being collected is stored (its section, `None` for
    /// `[DEFAULT]`, and position), as configparser stores it at once:
    /// continuation lines are joined to it there by `\n`.
    current: Option<(Option<usize>, usize)>,
    /// Empty lines since the value's last piece: each joins a `\n` to it,
    /// but only if another piece follows (the `rstrip()` at the end drops
    /// them otherwise), so they are counted rather than appended.
    empty_lines: usize,
    /// True once an option line was seen in the current section (`optname`).
    indent_level: usize,
    errors: Vec<(usize, String)>,
}

impl<'a> Reader<'a> {
    fn new(ini: &'a mut Ini, source: &Path, file: Rc<str>) -> Self {
        Reader {
            ini,
            source: Rc::from(source),
            file,
            cursect: None,
            current: None,
            empty_lines: 0,
            indent_level: 0,
            errors: Vec::new(),
        }
    }

    /// One line with its `\n`; `marked`: it has a `;` or a `#`.
    fn line(&mut self, lineno: usize, line: &str, marked: bool) -> Result<(), ParseError> {
        let comment_start = if marked { comment_start(line) } else { None };
        let code = match comment_start {
            Some(i) => line.get(..i).unwrap_or(""),
            None => line,
        };
        let body = py_trim_start(code);
        let value = py_trim_end(body);
        if value.is_empty() {
            // An empty line belongs to the value being collected, unless it
            // held a comment; trailing empties are dropped at the end.
            if comment_start.is_none() && self.current.is_some() {
                self.empty_lines += 1;
            }
            return Ok(());
        }
        // The line's leading whitespace, in characters: what `body` lost
        // (`value` is not empty, so more than blanks follows it).
        let indent = code
            .get(..code.len() - body.len())
            .map_or(0, |lead| lead.chars().count());
        if self.current.is_some() && indent > self.indent_level {
            let newlines = std::mem::take(&mut self.empty_lines) + 1;
            if let Some(text) = self.current_text() {
                text.append(newlines, value);
            }
            return Ok(());
        }
        self.indent_level = indent;
        if let Some(name) = section_header(value) {
            self.flush();
            self.open_section(name, lineno);
            return Ok(());
        }
        if self.cursect.is_none() {
            return Err(ParseError {
                message: format!(
                    "File contains no section headers.\nfile: {}, line: {}\n{}",
                    crate::pyrepr::repr(&self.source.to_string_lossy()),
                    lineno,
                    crate::pyrepr::repr(line)
                ),
                file: self.source.to_path_buf(),
                line: lineno,
            });
        }
        match option_line(value) {
            Some((key, val, lower)) => {
                if key.is_empty() {
                    self.errors.push((lineno, line.to_string()));
                }
                self.flush();
                let section = self.cursect.flatten();
                let (key, bit) = option_name(key, lower);
                let value = Value {
                    text: Text::piece(&self.file, val),
                    file: self.source.clone(),
                    line: lineno,
                };
                self.current = self.ini.set(section, key, bit, value).map(|at| (section, at));
            }
            None => self.errors.push((lineno, line.to_string())),
        }
        Ok(())
    }

    fn open_section(&mut self, name: &str, lineno: usize) {
        if name == DEFAULT_SECTION {
            self.cursect = Some(None);
            return;
        }
        let index = match self.ini.find(name) {
            Some(i) => i,
            None => self.ini.add_section(name, self.source.clone(), lineno),
        };
        self.cursect = Some(Some(index));
    }

    fn current_text(&mut self) -> Option<&mut Text> {
        let (section, at) = self.current?;
        self.ini.value_mut(section, at).map(|v| &mut v.text)
    }

    /// Finish the value being collected: `rstrip()` after the joins
    /// (trailing empty lines were never joined).
    fn flush(&mut self) {
        if let Some(text) = self.current_text() {
            let kept = py_trim_end(text).len();
            text.truncate(kept);
        }
        self.current = None;
        self.empty_lines = 0;
    }

    fn finish(mut self) -> Result<(), ParseError> {
        self.flush();
        let Some((first_line, _)) = self.errors.first() else {
            return Ok(());
        };
        let mut message = format!(
            "Source contains parsing errors: {}",
            crate::pyrepr::repr(&self.source.to_string_lossy())
        );
        for (lineno, line) in &self.errors {
            message.push_str(&format!("\n\t[line {:2}]: {}", lineno, crate::pyrepr::repr(line)));
        }
        Err(ParseError {
            message,
            file: self.source.to_path_buf(),
            line: *first_line,
        })
    }
}

// Eight bytes at a time (the lexer looks at every byte of the file):
// a byte's flag is its high bit in a word of eight little-endian bytes.
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

pub(super) fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
}

/// The flag of each byte of `w` equal to `b`, and possibly of bytes above
/// such a byte (a borrow): the lowest flag is always exact.
#[inline]
pub(super) fn hits(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// The flags below the lowest one of `found` (all when there is none).
#[inline]
fn below_first(found: u64) -> u64 {
    (found & found.wrapping_neg()).wrapping_sub(1)
}

/// The flag of each byte of `w` that is not ASCII or is an ASCII capital.
#[inline]
fn not_lower(w: u64) -> u64 {
    // Each byte of `low` is at most 0x7f: adding 0x3f or 0x25 cannot carry
    // into the next byte, and sets the flag from `A` on and past `Z`.
    let low = w & !HI;
    let from_a = low + LO * 0x3f;
    let past_z = low + LO * 0x25;
    (w | (from_a & !past_z)) & HI
}

/// Where the first line of `text` ends (after its `\n`, else at the end),
/// and whether it has a `;` or a `#` (only then can it hold a comment).
fn line_end(text: &[u8]) -> (usize, bool) {
    let mut marked = false;
    let mut chunks = text.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let w = word(chunk);
        let newline = hits(w, b'\n');
        let marks = hits(w, b';') | hits(w, b'#');
        if newline != 0 {
            // A mark below the newline is real (a false one only sits above
            // a real one).
            let at = newline.trailing_zeros() as usize / 8;
            return (base + at + 1, marked || marks & below_first(newline) != 0);
        }
        marked |= marks != 0;
        base += 8;
    }
    for (i, b) in chunks.remainder().iter().enumerate() {
        match b {
            b'\n' => return (base + i + 1, marked),
            b';' | b'#' => marked = true,
            _ => {}
        }
    }
    (text.len(), marked)
}

/// Where the comment of a raw line starts, configparser's way: inline
/// prefixes are searched round by round (one more occurrence of each prefix
/// per round) and only count at column 0 or after whitespace; a line whose
/// stripped text starts with a prefix is a comment as a whole.
fn comment_start(line: &str) -> Option<usize> {
    // Most lines have neither prefix: one scan, no search state.
    if !line.bytes().any(|b| b == b';' || b == b'#') {
        return None;
    }
    if py_strip(line).starts_with(';') || py_strip(line).starts_with('#') {
        return Some(0);
    }
    let mut positions: Vec<(char, Option<usize>)> = vec![(';', None), ('#', None)];
    loop {
        let mut found: Option<usize> = None;
        let mut next = Vec::new();
        for (prefix, last) in &positions {
            let from = last.map(|i| i + 1).unwrap_or(0);
            let Some(rel) = line.get(from..).and_then(|rest| rest.find(*prefix)) else {
                continue;
            };
            let index = from + rel;
            next.push((*prefix, Some(index)));
            let after_space = index == 0
                || line
                    .get(..index)
                    .and_then(|s| s.chars().next_back())
                    .is_some_and(py_isspace);
            if after_space {
                found = Some(found.map_or(index, |f: usize| f.min(index)));
            }
        }
        if found.is_some() || next.is_empty() {
            return found;
        }
        positions = next;
    }
}

/// `SECTCRE = r"\[(?P<header>.+)\]"` matched at the start of the stripped line.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let close = rest.rfind(']')?;
    let name = rest.get(..close)?;
    // `.+` matches no `\n`, and a line has none but its last character,
    // which the strip removed.
    if name.is_empty() {
        return None;
    }
    Some(name)
}

/// `OPTCRE`: key up to the first `=` or `:`, both sides stripped; and
/// whether the key is ASCII without capitals (`str.lower()` keeps it).
fn option_line(value: &str) -> Option<(&str, &str, bool)> {
    // Both delimiters are ASCII: a byte search finds the same place.
    let (at, lower) = delimiter(value.as_bytes())?;
    let key = py_trim_end(value.get(..at)?);
    let val = py_strip(value.get(at + 1..)?);
    Some((key, val, lower))
}

/// The first `=` or `:` of `b`, and whether the bytes before it are ASCII
/// without capitals.
fn delimiter(b: &[u8]) -> Option<(usize, bool)> {
    let mut lower = true;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let w = word(chunk);
        let found = hits(w, b'=') | hits(w, b':');
        lower &= not_lower(w) & below_first(found) == 0;
        if found != 0 {
            return Some((base + found.trailing_zeros() as usize / 8, lower));
        }
        base += 8;
    }
    for (i, c) in chunks.remainder().iter().enumerate() {
        if *c == b'=' || *c == b':' {
            return Some((base + i, lower));
        }
        lower &= c.is_ascii() && !c.is_ascii_uppercase();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        ini.read(text, Path::new("t.conf")).expect("parses");
        ini
    }

    fn names(ini: &Ini) -> Vec<String> {
        ini.section_names().iter().map(|n| n.to_string()).collect()
    }

    fn val(ini: &Ini, s: &str, k: &str) -> Option<String> {
        ini.get(s, k).map(|v| v.text.to_string())
    }

    #[test]
    fn sections_and_keys() {
        let ini = parse("[program:a]\ncommand = x\nKEY: y\n");
        assert_eq!(val(&ini, "program:a", "command").as_deref(), Some("x"));
        assert_eq!(val(&ini, "program:a", "key").as_deref(), Some("y"));
    }

    #[test]
    fn first_delimiter_wins() {
        let ini = parse("[s]\na:b=c\nd=e:f\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("b=c"));
        assert_eq!(val(&ini, "s", "d").as_deref(), Some("e:f"));
    }

    #[test]
    fn section_names_verbatim() {
        let ini = parse("[ Program:X ]\na=1\n[x] trailing\nb=2\n");
        assert_eq!(names(&ini), vec![" Program:X ", "x"]);
    }

    #[test]
    fn default_section_applies_everywhere() {
        let ini = parse("[DEFAULT]\nstartsecs=7\n[program:a]\ncommand=x\n");
        assert_eq!(val(&ini, "program:a", "startsecs").as_deref(), Some("7"));
        assert!(!ini.has_section("DEFAULT"));
    }

    #[test]
    fn comments() {
        let ini = parse("; top\n[s]\n  # indented comment\na=x ; c\nb=y;z\nc=q #r\nd=p#q\ne=t\t;tab\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("x"));
        assert_eq!(val(&ini, "s", "b").as_deref(), Some("y;z"));
        assert_eq!(val(&ini, "s", "c").as_deref(), Some("q"));
        assert_eq!(val(&ini, "s", "d").as_deref(), Some("p#q"));
        assert_eq!(val(&ini, "s", "e").as_deref(), Some("t"));
    }

    #[test]
    fn comment_inside_quotes_still_cuts() {
        let ini = parse("[s]\ncommand=sh -c 'echo a ; echo b'\n");
        assert_eq!(val(&ini, "s", "command").as_deref(), Some("sh -c 'echo a"));
    }

    #[test]
    fn round_based_comment_search() {
        // First ';' qualifies in round 1; the qualifying '#' is only found in round 2.
        let ini = parse("[s]\na=x#y #z ;w\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("x#y #z"));
    }

    #[test]
    fn continuation_lines() {
        let ini = parse("[s]\ncommand=a\n  b\n\n  c ; comment\n\n\nnext=1\n");
        assert_eq!(val(&ini, "s", "command").as_deref(), Some("a\nb\n\nc"));
        assert_eq!(val(&ini, "s", "next").as_deref(), Some("1"));
    }

    /// Empty lines join a value only when a continuation line follows; a
    /// value read as a piece of the file becomes its own text then.
    #[test]
    fn empty_lines_join_only_before_a_continuation() {
        let ini = parse("[s]\na=\n\n  b\nc=1\n\n\n[t]\nd=x\n\n; note\n\n  y\n\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("\n\nb"));
        assert_eq!(val(&ini, "s", "c").as_deref(), Some("1"));
        assert_eq!(val(&ini, "t", "d").as_deref(), Some("x\n\n\ny"));
    }

    #[test]
    fn comment_line_inside_value_is_skipped() {
        let ini = parse("[s]\ncommand=a\n# note\n  b\n");
        assert_eq!(val(&ini, "s", "command").as_deref(), Some("a\nb"));
    }

    #[test]
    fn duplicates_last_wins_and_sections_merge() {
        let ini = parse("[s]\na=1\na=2\nb=1\n[t]\n[s]\nb=3\nc=4\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("2"));
        assert_eq!(val(&ini, "s", "b").as_deref(), Some("3"));
        assert_eq!(names(&ini), vec!["s", "t"]);
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        let ini = parse("[s]\r\na=1\r\nb=2");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("1"));
        assert_eq!(val(&ini, "s", "b").as_deref(), Some("2"));
    }

    #[test]
    fn empty_value_allowed() {
        let ini = parse("[s]\na=\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some(""));
    }

    #[test]
    fn no_section_header() {
        let mut ini = Ini::default();
        let err = ini.read("command=sleep 1\n", Path::new("/x/n.conf")).unwrap_err();
        assert_eq!(
            err.message,
            "File contains no section headers.\nfile: '/x/n.conf', line: 1\n'command=sleep 1\\n'"
        );
    }

    #[test]
    fn parsing_errors_listed() {
        let mut ini = Ini::default();
        let err = ini
            .read("[s]\na=1\nthis line has no equals\nb\n", Path::new("p.conf"))
            .unwrap_err();
        assert_eq!(
            err.message,
            "Source contains parsing errors: 'p.conf'\n\t[line  3]: 'this line has no equals\\n'\n\t[line  4]: 'b\\n'"
        );
        assert_eq!(err.line, 3);
    }

    #[test]
    fn huge_line_and_junk_do_not_panic() {
        let big = format!("[s]\na={}\n", "x".repeat(10 * 1024 * 1024));
        let ini = parse(&big);
        assert_eq!(ini.get("s", "a").map(|v| v.text.len()), Some(10 * 1024 * 1024));
        let mut ini = Ini::default();
        assert!(ini.read("\u{0}\u{1}[\u{7f}", Path::new("j")).is_err());
    }

    #[test]
    fn expand_here_materializes_defaults() {
        let mut ini = parse("[DEFAULT]\nd=%(here)s/x\n[s]\na=%(here)s\n");
        ini.expand_here("/h");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("/h"));
        assert_eq!(val(&ini, "s", "d").as_deref(), Some("/h/x"));
        assert_eq!(ini.defaults.get("d").map(|v| &*v.text), Some("%(here)s/x"));
    }

    /// The full rescan supervisord does after every included file.
    fn expand_here_full(ini: &mut Ini, here: &str) {
        const HERE: &str = "%(here)s";
        let defaults = ini.defaults.keys.clone();
        for section in &mut ini.sections {
            for (key, value) in &defaults {
                if section.get(key).is_none() && value.text.contains(HERE) {
                    let mut v = value.clone();
                    v.text = v.text.replace(HERE, here).into();
                    section.set(key.clone(), key_bit(key), v);
                }
            }
            for (_, value) in section.keys.iter_mut() {
                if value.text.contains(HERE) {
                    value.text = value.text.replace(HERE, here).into();
                }
            }
        }
    }

    fn texts(ini: &Ini) -> Vec<(String, Vec<(String, String)>)> {
        ini.sections
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    s.keys
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.text.to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    /// Issue 9 item 10: `expand_here` looked at every value after every
    /// included file (quadratic); the incremental one must agree with it.
    /// Read each `(here, text)` in turn, expanding `%(here)s` after each
    /// one incrementally and by a full rescan: the results agree throughout.
    fn fast_matches_full(files: &[(&str, &str)]) -> Ini {
        let mut fast = Ini::default();
        let mut slow = Ini::default();
        for &(here, text) in files {
            fast.read(text, Path::new("f")).expect("parses");
            slow.read(text, Path::new("f")).expect("parses");
            fast.expand_here(here);
            expand_here_full(&mut slow, here);
            assert_eq!(texts(&fast), texts(&slow), "after {here}");
        }
        fast
    }

    #[test]
    fn incremental_expand_here_matches_full_rescan() {
        let files = [
            ("/m", "[DEFAULT]\nd=%(here)s/d\n[a]\nx=%(here)s/x\ny=1\n"),
            (
                "/i1",
                "[b]\nx=%(here)s\n[a]\ny=%(here)s/y\n[DEFAULT]\ne=%(here)s/e\nf=plain\n",
            ),
            ("/i2/%(here)s", "[c]\nz=1\n"),
            ("/i3", "[a]\nnew=%(here)s\n[DEFAULT]\nd=%(here)s/d2\n[d]\n"),
            ("/i4", "[e]\n"),
        ];
        fast_matches_full(&files);
    }

    #[test]
    fn hundred_thousand_keys_and_sections() {
        let mut text = String::from("[s]\n");
        for i in 0..100_000 {
            text.push_str(&format!("k{i}=v{i}\n"));
        }
        for i in 0..100_000 {
            text.push_str(&format!("[t{i}]\na=%(here)s\n"));
        }
        let ini = parse(&text);
        assert_eq!(val(&ini, "s", "k99999").as_deref(), Some("v99999"));
        assert_eq!(ini.sections.len(), 100_001);
        assert_eq!(ini.options("s").len(), 100_000);
    }

    #[test]
    fn keys_found_on_both_sides_of_the_index_threshold() {
        let mut text = String::from("[s]\n");
        for i in 0..20 {
            text.push_str(&format!("k{i}={i}\n"));
            if i == 5 || i == 12 {
                text.push_str("k3=again\nk1=again\n");
            }
        }
        text.push_str("k15=last\n");
        let ini = parse(&text);
        assert_eq!(val(&ini, "s", "k3").as_deref(), Some("again"));
        assert_eq!(val(&ini, "s", "k15").as_deref(), Some("last"));
        assert_eq!(val(&ini, "s", "k19").as_deref(), Some("19"));
        assert_eq!(val(&ini, "s", "k20"), None);
        assert_eq!(ini.options("s").len(), 20);
    }

    /// The key mask only rules keys out: every stored key is found, in a
    /// small section (searched in order) and a large one (indexed).
    #[test]
    fn key_mask_never_hides_a_stored_key() {
        for n in [5, 300] {
            let mut text = String::from("[s]\n");
            for i in 0..n {
                text.push_str(&format!("key_{i}_{}={i}\n", "x".repeat(i % 13)));
            }
            let ini = parse(&text);
            for i in 0..n {
                let key = format!("key_{i}_{}", "x".repeat(i % 13));
                assert_eq!(val(&ini, "s", &key), Some(i.to_string()), "{key}");
            }
            for i in n..n + 300 {
                assert_eq!(val(&ini, "s", &format!("key_{i}_")), None);
            }
        }
    }

    #[test]
    fn same_is_string_equality() {
        for (a, b) in [
            ("", ""),
            ("a", "a"),
            ("program:p1", "program:p1"),
            ("program:p1", "program:p2"),
            ("abcdefgh", "abcdefgh"),
            ("abcdefghi", "abcdefghj"),
            ("abcdefgh1", "abcdefgh"),
            ("é", "e"),
        ] {
            assert_eq!(same(a, b), a == b, "{a} {b}");
        }
    }

    /// Texts mixing ASCII and Unicode blanks at both ends and inside.
    fn blank_mixes() -> Vec<String> {
        let pieces = [
            "", " ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\u{85}", "\u{a0}", "\u{2000}",
            "\u{3000}", "x", "é", "a b", "\u{200b}", "\x1b", "#", "\u{feff}",
        ];
        let mut out = Vec::new();
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    out.push(format!("{a}{b}{c}"));
                    out.push(format!("{a}{b}k=v{c}"));
                }
            }
        }
        out
    }

    #[test]
    fn byte_trims_are_python_strips() {
        for t in blank_mixes() {
            assert_eq!(py_strip(&t), t.trim_matches(py_isspace), "{t:?}");
            assert_eq!(py_trim_start(&t), t.trim_start_matches(py_isspace), "{t:?}");
            assert_eq!(py_trim_end(&t), t.trim_end_matches(py_isspace), "{t:?}");
        }
    }

    /// The indentation of a line counts characters, Unicode blanks too:
    /// a continuation line indented with one U+3000 is deeper than a key at
    /// column 0 and shallower than two spaces.
    #[test]
    fn unicode_indentation() {
        let ini = parse("[s]\na=1\n\u{3000}b\n  c=2\n\u{3000}\u{3000}\u{3000}d\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("1\nb\nc=2\nd"));
        let ini = parse("[s]\n\u{a0}a=1\n\u{2000} b\n\u{a0}c=2\n");
        assert_eq!(val(&ini, "s", "a").as_deref(), Some("1\nb"));
        assert_eq!(val(&ini, "s", "c").as_deref(), Some("2"));
    }

    /// Many sections: searched in order up to `INDEX_FROM`, indexed past it;
    /// a repeated header merges into the first either way.
    #[test]
    fn sections_on_both_sides_of_the_index_threshold() {
        let mut text = String::new();
        for i in 0..30 {
            text.push_str(&format!("[s{i}]\nk=v{i}\n"));
        }
        text.push_str("[s3]\nk2=again\n[s20]\nk2=again\n");
        let ini = parse(&text);
        assert_eq!(ini.sections.len(), 30);
        for i in 0..30 {
            assert_eq!(val(&ini, &format!("s{i}"), "k"), Some(format!("v{i}")));
        }
        assert_eq!(val(&ini, "s3", "k2").as_deref(), Some("again"));
        assert_eq!(val(&ini, "s20", "k2").as_deref(), Some("again"));
        assert!(ini.section("s30").is_none());
        assert!(!ini.may_have("s30", "k"));
        assert!(ini.may_have("s29", "k"));
    }

    /// supervisord replaces `%(here)s` once per value per file, even where
    /// `here` itself contains `%(here)s` (the next file's pass replaces it
    /// again, and only then).
    #[test]
    fn here_containing_here_is_replaced_once_per_pass() {
        let files = [
            ("/a/%(here)s", "[DEFAULT]\nd=%(here)s/d\n[a]\nx=%(here)s/x\n"),
            (
                "/b/%(here)s",
                "[a]\ny=%(here)s/y\n[b]\nz=%(here)s\n[DEFAULT]\ne=%(here)s\n",
            ),
            ("/c", "[a]\nw=%(here)s\n"),
        ];
        let fast = fast_matches_full(&files);
        assert_eq!(val(&fast, "a", "x").as_deref(), Some("/a//b//c/x"));
    }

    /// The word-wide scans agree with byte-by-byte ones at every offset.
    #[test]
    fn word_scans_match_byte_scans() {
        let alphabet: &[u8] = b"aZ=:;#\n \x80\xc3\xa9AzM_@[`{";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect();
            let end = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| i + 1);
            let marked = bytes[..end].iter().any(|b| *b == b';' || *b == b'#');
            assert_eq!(line_end(&bytes), (end, marked), "{bytes:?}");
            let want = bytes.iter().position(|b| *b == b'=' || *b == b':').map(|at| {
                (
                    at,
                    bytes[..at]
                        .iter()
                        .all(|c| c.is_ascii() && !c.is_ascii_uppercase()),
                )
            });
            assert_eq!(delimiter(&bytes), want, "{bytes:?}");
        }
    }
}

//! rinit's own environment (docs/design.md, "Environment"): the `ENV_*`
//! names of the config and the base of every child's environment.
//!
//! It is read in place, not copied: the kernel's `NAME=VALUE` strings are
//! borrowed for the life of the process, and a child's `envp` points at
//! them. Copying it (two strings per variable) was an eighth of rinit's
//! start-up, and building each child's environment from the copies another
//! eighth (bench/README.md, "Start-up cost").

use std::borrow::Cow;
use std::ffi::{c_char, CStr, CString};

/// One variable.
#[derive(Debug, Clone)]
pub struct Var {
    /// As text, lossy where the bytes are not UTF-8: what `%(ENV_X)s`, the
    /// PATH search and the control interface see.
    pub name: Cow<'static, str>,
    pub value: Cow<'static, str>,
    /// `NAME=VALUE` as rinit was given it: what a child gets, byte for byte
    /// (as supervisord passes `os.environ` on). `None` for a pair with a NUL
    /// byte, which no `execve` can pass.
    entry: Option<Cow<'static, CStr>>,
}

/// An environment without repeated names, in Python `dict` order: a name
/// keeps the place of its first appearance and gets its last value.
#[derive(Debug, Clone, Default)]
pub struct Environ {
    vars: Vec<Var>,
    /// One bit per [`bucket`] of the names held: a name whose bit is clear
    /// is absent without a search (a child's `SUPERVISOR_*` names nearly
    /// always are).
    buckets: [u64; 4],
}

/// A cheap, stable 8-bit summary of a name.
fn bucket(name: &[u8]) -> usize {
    let (first, last) = (
        name.first().copied().unwrap_or(0),
        name.last().copied().unwrap_or(0),
    );
    (name
        .len()
        .wrapping_mul(31)
        .wrapping_add(usize::from(first))
        .wrapping_add(usize::from(last).wrapping_mul(7)))
        & 255
}

fn has_bucket(bits: &[u64; 4], b: usize) -> bool {
    bits.get(b / 64).is_some_and(|w| w & (1 << (b % 64)) != 0)
}

fn set_bucket(bits: &mut [u64; 4], b: usize) {
    if let Some(w) = bits.get_mut(b / 64) {
        *w |= 1 << (b % 64);
    }
}

/// `bytes` as text, lossy where they are not UTF-8.
fn text(bytes: &'static [u8]) -> Cow<'static, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
    }
}

extern "C" {
    /// The C library's environment array (POSIX `environ`).
    static environ: *const *const c_char;
}

impl Environ {
    /// This process's environment. Entries without `=` after the first
    /// byte are skipped, as Rust's `std::env::vars_os` skips them.
    pub fn host() -> Environ {
        // SAFETY: `environ` is the C library's, set up before `main`. rinit
        // never changes its own environment (no `setenv`, `putenv`,
        // `std::env::set_var` anywhere), so neither the array nor the
        // strings it points at are changed or freed while rinit runs: each
        // is a NUL-terminated string that lives for the whole process, and
        // the array ends at a null pointer.
        let array = unsafe { environ };
        let mut count = 0usize;
        // SAFETY: as above; `count` stays within the array, up to its null.
        while !array.is_null() && !unsafe { *array.add(count) }.is_null() {
            count += 1;
        }
        let mut env = Environ {
            vars: Vec::with_capacity(count),
            buckets: [0; 4],
        };
        // Environments are nearly always ASCII, checked a word at a time
        // for a whole entry; the general UTF-8 check costs about eight
        // instructions a byte on short strings.
        for k in 0..count {
            // SAFETY: as above: `k` is before the null, and the string is
            // NUL-terminated and never freed.
            let entry: &'static CStr = unsafe { CStr::from_ptr(*array.add(k)) };
            let bytes = entry.to_bytes();
            let Some(eq) = bytes.get(1..).and_then(|rest| memchr::memchr(b'=', rest)) else {
                continue;
            };
            let (name, value) = bytes.split_at(eq + 1);
            let value = value.get(1..).unwrap_or_default();
            let (name, value) = if bytes.is_ascii() {
                // SAFETY: ASCII is valid UTF-8; `name` and `value` are
                // parts of `bytes` cut at an ASCII byte.
                unsafe {
                    (
                        Cow::Borrowed(std::str::from_utf8_unchecked(name)),
                        Cow::Borrowed(std::str::from_utf8_unchecked(value)),
                    )
                }
            } else {
                (text(name), text(value))
            };
            env.set_var(Var {
                name,
                value,
                entry: Some(Cow::Borrowed(entry)),
            });
        }
        env
    }

    /// An environment from `(name, value)` pairs, in order (tests, fuzz
    /// targets, and tools that read a config for another environment).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Environ {
        let mut env = Environ::default();
        for (k, v) in pairs {
            let (name, value): (String, String) = (k.into(), v.into());
            let entry = CString::new(format!("{name}={value}")).ok().map(Cow::Owned);
            env.set_var(Var {
                name: Cow::Owned(name),
                value: Cow::Owned(value),
                entry,
            });
        }
        env
    }

    fn set_var(&mut self, var: Var) {
        let b = bucket(var.name.as_bytes());
        if has_bucket(&self.buckets, b) {
            if let Some(old) = self.vars.iter_mut().find(|v| v.name == var.name) {
                old.value = var.value;
                old.entry = var.entry;
                return;
            }
        }
        set_bucket(&mut self.buckets, b);
        self.vars.push(var);
    }

    fn position(&self, name: &str) -> Option<usize> {
        if !has_bucket(&self.buckets, bucket(name.as_bytes())) {
            return None;
        }
        self.vars.iter().position(|v| v.name == name)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name)
            .and_then(|i| self.vars.get(i))
            .map(|v| &*v.value)
    }

    /// `(name, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|v| (&*v.name, &*v.value))
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// This environment with `extra` set on top, in `dict` order (a name
    /// of ours that `extra` sets keeps its place), as slots that say where
    /// each entry comes from: the one home of a child's environment rule.
    fn merged<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<Slot<'a>> {
        let mut slots: Vec<Slot<'a>> = Vec::with_capacity(self.vars.len() + extra.len());
        slots.extend((0..self.vars.len()).map(Slot::Ours));
        let ours = slots.len();
        for &(k, v) in extra {
            let at = match self.position(k) {
                Some(i) => Some(i),
                None => slots
                    .get(ours..)
                    .and_then(|added| added.iter().position(|s| matches!(s, Slot::Set(n, _) if *n == k)))
                    .map(|j| ours + j),
            };
            match at.and_then(|i| slots.get_mut(i)) {
                Some(slot) => *slot = Slot::Set(k, v),
                None => slots.push(Slot::Set(k, v)),
            }
        }
        slots
    }

    /// [`Environ::merged`] as owned pairs (what a child sees, for tests
    /// and the control interface).
    pub fn with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        self.merged(extra)
            .into_iter()
            .filter_map(|s| match s {
                Slot::Ours(i) => self
                    .vars
                    .get(i)
                    .map(|v| (v.name.to_string(), v.value.to_string())),
                Slot::Set(k, v) => Some((k.to_string(), v.to_string())),
            })
            .collect()
    }

    /// A child's `envp`: [`Environ::merged`] with our entries pointed at
    /// where they are and the set ones copied into one buffer. A pair with
    /// a NUL byte is left out. The pointers into `self` stay valid while
    /// `self` is borrowed: [`Envp`] holds that borrow.
    pub fn envp<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Envp<'a> {
        let slots = self.merged(extra);
        let mut block: Vec<u8> = Vec::with_capacity(
            extra
                .iter()
                .map(|(k, v)| k.len().saturating_add(v.len()).saturating_add(2))
                .fold(0usize, usize::saturating_add),
        );
        // Where each entry is: ours by address, the set ones by offset in
        // `block` until it stops growing.
        let mut at: Vec<Result<*const c_char, usize>> = Vec::with_capacity(slots.len());
        for s in slots {
            match s {
                Slot::Ours(i) => {
                    if let Some(e) = self.vars.get(i).and_then(|v| v.entry.as_ref()) {
                        at.push(Ok(e.as_ptr()));
                    }
                }
                Slot::Set(k, v) => {
                    if k.contains('\0') || v.contains('\0') {
                        continue;
                    }
                    at.push(Err(block.len()));
                    block.extend_from_slice(k.as_bytes());
                    block.push(b'=');
                    block.extend_from_slice(v.as_bytes());
                    block.push(0);
                }
            }
        }
        let base = block.as_ptr();
        let mut ptrs: Vec<*const c_char> = at
            .into_iter()
            .map(|a| a.unwrap_or_else(|off| base.wrapping_add(off).cast()))
            .collect();
        ptrs.push(std::ptr::null());
        Envp {
            ptrs,
            _block: block,
            _strings: Vec::new(),
            _ours: std::marker::PhantomData,
        }
    }
}

/// Where one entry of a merged environment comes from.
enum Slot<'a> {
    Ours(usize),
    Set(&'a str, &'a str),
}

/// A child's `envp` array: null-terminated pointers to `NAME=VALUE`
/// strings, in its own buffer or in the [`Environ`] it borrows.
pub struct Envp<'a> {
    ptrs: Vec<*const c_char>,
    _block: Vec<u8>,
    _strings: Vec<CString>,
    _ours: std::marker::PhantomData<&'a Environ>,
}

impl Envp<'static> {
    /// Exactly these entries, in order (single-program mode passes its
    /// environment on as it got it).
    pub fn owned(strings: Vec<CString>) -> Envp<'static> {
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Envp {
            ptrs,
            _block: Vec::new(),
            _strings: strings,
            _ours: std::marker::PhantomData,
        }
    }
}

impl Envp<'_> {
    /// For `execve`: valid while `self` lives.
    pub fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }

    /// The entries, for tests.
    pub fn entries(&self) -> Vec<&[u8]> {
        self.ptrs
            .iter()
            .take_while(|p| !p.is_null())
            // SAFETY: each non-null pointer is a NUL-terminated string in
            // `_block`, `_strings` or the borrowed `Environ`, all alive
            // with `self`.
            .map(|&p| unsafe { CStr::from_ptr(p) }.to_bytes())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_what_std_reads() {
        let host = Environ::host();
        let mut want = Environ::default();
        for (k, v) in std::env::vars_os() {
            want.set_var(Var {
                name: Cow::Owned(k.to_string_lossy().into_owned()),
                value: Cow::Owned(v.to_string_lossy().into_owned()),
                entry: None,
            });
        }
        let got: Vec<_> = host.iter().collect();
        let want: Vec<_> = want.iter().collect();
        assert_eq!(got, want);
        assert!(!host.is_empty());
    }

    #[test]
    fn a_repeated_name_keeps_its_first_place_and_last_value() {
        let env = Environ::from_pairs([("A", "1"), ("B", "2"), ("A", "3")]);
        assert_eq!(env.iter().collect::<Vec<_>>(), [("A", "3"), ("B", "2")]);
        assert_eq!(env.get("A"), Some("3"));
        assert_eq!(env.get("C"), None);
    }

    /// The bucket bits only skip searches: with many names (every bucket
    /// taken, names repeated) the result is the plain quadratic one.
    #[test]
    fn merging_many_names_keeps_first_position_and_last_value() {
        let base: Vec<(String, String)> = (0..2000)
            .map(|i| (format!("K{}", i % 700), format!("v{i}")))
            .collect();
        let extra = [("K5", "mine"), ("NEW", "n"), ("K6", "x"), ("NEW", "m")];
        let mut want: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: &str| match want.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => want.push((k.to_string(), v.to_string())),
        };
        for (k, v) in base.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(extra) {
            set(k, v);
        }
        let env = Environ::from_pairs(base);
        assert_eq!(env.with(&extra), want);
        assert_eq!(want.len(), 700 + 1);
        let envp = env.envp(&extra);
        let flat: Vec<Vec<u8>> = want
            .iter()
            .map(|(k, v)| format!("{k}={v}").into_bytes())
            .collect();
        assert_eq!(
            envp.entries(),
            flat.iter().map(|e| e.as_slice()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_pair_with_a_nul_byte_is_left_out_of_envp() {
        let env = Environ::from_pairs([("A", "1\0x"), ("B", "2")]);
        let envp = env.envp(&[("C", "3\0"), ("D", "4")]);
        assert_eq!(envp.entries(), [&b"B=2"[..], b"D=4"]);
    }
}

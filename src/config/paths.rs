//! Path helpers with Python `os.path` semantics, the passwd/group lookups a
//! static binary must do itself (no NSS), and `glob.glob` for `[include]`.

use std::path::Path;

use crate::users::{Passwd, UserError};

/// `os.path.expanduser`: `~` and `~/x` from `$HOME`, `~name` from /etc/passwd.
pub fn expanduser(v: &str, home: Option<&str>) -> String {
    let Some(rest) = v.strip_prefix('~') else {
        return v.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    // The passwd file is read only for a `~` without $HOME or a `~name`.
    let from_passwd = |find: &dyn Fn(&Passwd) -> Option<String>| Passwd::system().ok().and_then(|p| find(&p));
    let dir = if user.is_empty() {
        home.map(str::to_string).or_else(|| {
            let uid = nix::unistd::getuid().as_raw();
            from_passwd(&|p| p.by_uid(uid).map(|e| e.home.clone()))
        })
    } else {
        from_passwd(&|p| p.by_name(user).map(|e| e.home.clone()))
    };
    match dir {
        Some(d) => {
            let d = if d.len() > 1 {
                d.trim_end_matches('/').to_string()
            } else {
                d
            };
            if d.is_empty() {
                format!("/{}", tail.trim_start_matches('/'))
            } else {
                format!("{d}{tail}")
            }
        }
        None => v.to_string(),
    }
}

/// `os.path.normpath`.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    // Most paths are normal already: one scan and one copy instead of a
    // split and a join.
    if is_normal_absolute(p) {
        return p.to_string();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if p.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if initial.is_empty() {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// An absolute path without an empty, `.` or `..` component: what
/// `normpath` and `abspath` give back as it is.
pub fn is_normal_absolute(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    // Without a `/` before a `/` or a `.` (nearly every path), only a
    // trailing `/` can make an empty component.
    if !slash_before_slash_or_dot(p.as_bytes()) {
        return !rest.ends_with('/');
    }
    // The current component's length, and how many of its bytes are dots.
    let (mut len, mut dots) = (0usize, 0usize);
    for b in rest.bytes() {
        if b == b'/' {
            if len == dots && len <= 2 {
                return false;
            }
            (len, dots) = (0, 0);
        } else {
            len += 1;
            dots += usize::from(b == b'.');
        }
    }
    !(len == dots && len <= 2)
}

/// Whether a `/` is followed by a `/` or a `.` somewhere in `b`, eight
/// bytes at a time. A flag `hits` sets wrongly sits on a `.` or a `/` just
/// above a real `/` or `.`: it can only find a pair where there is one.
fn slash_before_slash_or_dot(b: &[u8]) -> bool {
    use super::lexer::{hits, word};
    // The flag of the previous word's last byte being `/`, moved to byte 0.
    let mut carry = 0u64;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        let w = word(chunk);
        let slash = hits(w, b'/');
        let either = slash | hits(w, b'.');
        if ((slash << 8) | carry) & either != 0 {
            return true;
        }
        carry = slash >> 56;
    }
    let mut after_slash = carry != 0;
    for c in chunks.remainder() {
        if after_slash && (*c == b'/' || *c == b'.') {
            return true;
        }
        after_slash = *c == b'/';
    }
    false
}

/// `os.path.abspath` (against the current directory).
pub fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        return normpath(p);
    }
    let cwd = std::env::current_dir()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into());
    normpath(&join(&cwd, p))
}

/// `os.path.dirname`.
pub fn dirname(p: &str) -> String {
    dirname_str(p).to_string()
}

/// `os.path.dirname`, borrowed from `p`.
pub fn dirname_str(p: &str) -> &str {
    // `/` is ASCII: byte positions next to it are character boundaries.
    let b = p.as_bytes();
    let Some(last) = b.iter().rposition(|c| *c == b'/') else {
        return "";
    };
    // The head keeps its trailing slashes only if it is nothing else.
    let end = b
        .get(..last)
        .and_then(|head| head.iter().rposition(|c| *c != b'/'))
        .map_or(last + 1, |i| i + 1);
    p.get(..end).unwrap_or("")
}

/// `os.path.join(a, b)` for two parts.
pub fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_string()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

pub fn is_dir(p: &str) -> bool {
    Path::new(p).is_dir()
}

/// `name_to_uid()`: a name or numeric uid that must exist in the passwd
/// file, by `users.rs`'s rules (the same lookup the runtime does).
pub fn check_user(passwd: &Result<Passwd, UserError>, name: &str) -> Result<(), String> {
    match passwd {
        Ok(db) => db.find(name).map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `name_to_gid()` against /etc/group.
pub fn check_group(name: &str) -> Result<(), String> {
    let text = std::fs::read("/etc/group")
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let groups: Vec<(String, Option<i64>)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.first()?.to_string(), f.get(2).and_then(|g| g.parse().ok())))
        })
        .collect();
    match super::values::integer(name) {
        Ok(gid) if groups.iter().any(|(_, g)| *g == Some(gid)) => Ok(()),
        Ok(_) => Err(format!("Invalid group id {name}")),
        Err(_) if groups.iter().any(|(n, _)| n == name) => Ok(()),
        Err(_) => Err(format!("Invalid group name {name}")),
    }
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Python's `glob.glob(pattern)` (non-recursive): results unsorted as
/// scandir gives them; the caller sorts, as supervisord does.
pub fn glob(pattern: &str) -> Vec<String> {
    if !has_magic(pattern) {
        let exists = std::fs::symlink_metadata(pattern).is_ok();
        let ok = if pattern.ends_with('/') {
            is_dir(pattern)
        } else {
            exists
        };
        return if ok { vec![pattern.to_string()] } else { Vec::new() };
    }
    let (dir, base) = split(pattern);
    let dirs: Vec<String> = if dir != pattern && has_magic(&dir) {
        glob(&dir).into_iter().filter(|d| is_dir(d)).collect()
    } else {
        vec![dir.clone()]
    };
    let mut out = Vec::new();
    for d in dirs {
        if has_magic(&base) {
            for name in list_dir(&d) {
                if (!name.starts_with('.') || base.starts_with('.')) && fnmatch(&name, &base) {
                    out.push(join(&d, &name));
                }
            }
        } else if base.is_empty() {
            if is_dir(&d) {
                out.push(join(&d, ""));
            }
        } else {
            let p = join(&d, &base);
            if std::fs::symlink_metadata(&p).is_ok() {
                out.push(p);
            }
        }
    }
    out
}

/// `os.path.split`.
fn split(p: &str) -> (String, String) {
    match p.rfind('/') {
        Some(i) => {
            let head = p.get(..=i).unwrap_or("");
            let tail = p.get(i + 1..).unwrap_or("");
            let head = if head.chars().all(|c| c == '/') {
                head.to_string()
            } else {
                head.trim_end_matches('/').to_string()
            };
            (head, tail.to_string())
        }
        None => (String::new(), p.to_string()),
    }
}

fn list_dir(d: &str) -> Vec<String> {
    let dir = if d.is_empty() { "." } else { d };
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`; an unclosed `[` is literal.
/// Iterative (star backtracking), so a huge pattern cannot exhaust the stack.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let tokens = tokenize(pattern);
    let (mut ni, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match tokens.get(ti) {
            Some(Token::Star) => {
                star = Some((ti, ni));
                ti += 1;
                continue;
            }
            Some(t) if n.get(ni).is_some_and(|c| t.matches(*c)) => {
                ti += 1;
                ni += 1;
                continue;
            }
            None if ni == n.len() => return true,
            _ => {}
        }
        match star {
            Some((st, sn)) if sn < n.len() => {
                star = Some((st, sn + 1));
                ti = st + 1;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

/// One element of a glob pattern.
enum Token {
    Star,
    Any,
    Char(char),
    Class { negate: bool, items: Vec<char> },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star | Token::Any => true,
            Token::Char(x) => *x == c,
            Token::Class { negate, items } => {
                let mut hit = false;
                let mut j = 0;
                while let Some(&a) = items.get(j) {
                    match (items.get(j + 1), items.get(j + 2)) {
                        (Some('-'), Some(&b)) => {
                            hit |= a <= c && c <= b;
                            j += 3;
                        }
                        _ => {
                            hit |= a == c;
                            j += 1;
                        }
                    }
                }
                hit != *negate
            }
        }
    }
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = p.get(i) {
        i += 1;
        match c {
            '*' => {
                if !matches!(out.last(), Some(Token::Star)) {
                    out.push(Token::Star);
                }
            }
            '?' => out.push(Token::Any),
            '[' => match class_end(&p, i) {
                Some(end) => {
                    let body = p.get(i..end).unwrap_or(&[]);
                    let (negate, items) = match body.split_first() {
                        Some(('!', rest)) => (true, rest.to_vec()),
                        _ => (false, body.to_vec()),
                    };
                    out.push(Token::Class { negate, items });
                    i = end + 1;
                }
                None => out.push(Token::Char('[')),
            },
            c => out.push(Token::Char(c)),
        }
    }
    out
}

/// Index of the `]` closing a class whose body starts at `start`.
fn class_end(p: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    if p.get(i) == Some(&'!') {
        i += 1;
    }
    if p.get(i) == Some(&']') {
        i += 1;
    }
    while p.get(i).is_some_and(|c| *c != ']') {
        i += 1;
    }
    p.get(i).map(|_| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_rules() {
        assert!(fnmatch("a.conf", "*.conf"));
        assert!(fnmatch(".hidden.conf", "*.conf")); // hidden filtering is glob's job
        assert!(fnmatch("a1", "a[0-9]"));
        assert!(!fnmatch("ab", "a[!b]"));
        assert!(fnmatch("a[", "a["));
        assert!(fnmatch("x", "?"));
        assert!(!fnmatch("xy", "?"));
        assert!(fnmatch("a-b-c.conf", "*-*-*.conf"));
        assert!(!fnmatch("abc", "*d*"));
        assert!(fnmatch("]", "[]]"));
        let long = "a".repeat(1_000_000);
        assert!(fnmatch(&long, &long));
    }

    #[test]
    fn glob_sorted_and_hidden() {
        let dir = std::env::temp_dir().join(format!("rinit-glob-{}", std::process::id()));
        let d = dir.to_string_lossy().into_owned();
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["b.conf", "a.conf", ".h.conf", "c.txt"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let mut got = glob(&format!("{d}/*.conf"));
        got.sort();
        assert_eq!(got, vec![format!("{d}/a.conf"), format!("{d}/b.conf")]);
        assert_eq!(glob(&format!("{d}/.*.conf")), vec![format!("{d}/.h.conf")]);
        assert!(glob(&format!("{d}/nope/*.conf")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The byte scan says what the split by `/` says.
    #[test]
    fn normal_absolute_paths() {
        let parts = [
            "", ".", "..", "...", "a", ".a", "a.", "..a", "é", "abcdefg", "x.conf.d",
        ];
        let mut all = vec![String::new(), "a".to_string()];
        for x in parts {
            for y in parts {
                for z in parts {
                    all.push(format!("/{x}"));
                    all.push(format!("/{x}/{y}"));
                    all.push(format!("/{x}/{y}/{z}"));
                    all.push(format!("{x}/{y}"));
                }
            }
        }
        for p in all
            .iter()
            .flat_map(|p| [p.clone(), format!("/{p}//"), format!("//{p}")])
        {
            // `os.path.dirname` as Python writes it: the head up to the last
            // `/`, stripped of its trailing slashes unless it is all slashes.
            let head = p.rfind('/').map_or("", |i| &p[..=i]);
            let want = if head.chars().all(|c| c == '/') {
                head
            } else {
                head.trim_end_matches('/')
            };
            assert_eq!(dirname_str(&p), want, "{p}");
        }
        for p in all {
            let split = p
                .strip_prefix('/')
                .is_some_and(|r| r.is_empty() || r.split('/').all(|c| !matches!(c, "" | "." | "..")));
            assert_eq!(is_normal_absolute(&p), split, "{p}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(normpath("/a/./b/../c//d"), "/a/c/d");
        assert_eq!(normpath("//a"), "//a");
        assert_eq!(normpath("/.."), "/");
        // The normal-already quick way gives what the split and join give.
        for p in [
            "/",
            "/a",
            "/a/b.conf",
            "/a/",
            "/a/.",
            "/a/..",
            "///a",
            "/a//b",
            "/.x/..y",
        ] {
            let slow = if p == "/" {
                "/".to_string()
            } else {
                normpath(&format!("/.{p}"))
            };
            assert_eq!(normpath(p), slow, "{p}");
        }
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a"), "");
        assert_eq!(expanduser("~/x", Some("/root")), "/root/x");
        assert_eq!(expanduser("x~", Some("/root")), "x~");
    }
}

#[cfg(test)]
mod passwd_tests {
    use super::*;

    /// Issue 10: `check` parsed /etc/passwd with its own rules and took
    /// comment and NIS lines as users, which the runtime (`users.rs`) then
    /// could not find. Both now use `users::Passwd`.
    #[test]
    fn check_user_skips_comment_and_nis_lines_like_the_runtime() {
        let db = Ok(Passwd::parse(
            "#ghost:x:7:7::/:/bin/sh\n+nis:x:8:8::/:/bin/sh\n-minus:x:6:6::/:/bin/sh\nreal:x:9:9::/home/real:/bin/sh\n",
        ));
        assert_eq!(check_user(&db, "#ghost"), Err("Invalid user name #ghost".into()));
        assert_eq!(check_user(&db, "+nis"), Err("Invalid user name +nis".into()));
        assert_eq!(check_user(&db, "8"), Err("Invalid user id 8".into()));
        assert_eq!(check_user(&db, "7"), Err("Invalid user id 7".into()));
        assert_eq!(check_user(&db, "real"), Ok(()));
        assert_eq!(check_user(&db, " 9 "), Ok(()));
        assert_eq!(
            db.as_ref()
                .ok()
                .and_then(|p| p.by_uid(9))
                .map(|e| e.home.as_str()),
            Some("/home/real")
        );
    }
}

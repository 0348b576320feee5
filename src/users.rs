//! The user database, read straight from `/etc/passwd` and `/etc/group`.
//!
//! rinit is a static binary: there is no NSS to ask, and in a container the
//! files are the whole database anyway. Reading them ourselves also means the
//! lookup happens in the parent, before `fork`, so the child only has to make
//! the three system calls (`setgroups`, `setgid`, `setuid`).
//!
//! The rules are supervisord's (`name_to_uid` at configuration time,
//! `drop_privileges` at spawn time): a value that parses as an integer is a
//! uid and must exist in passwd; anything else is a user name. A malformed
//! line is skipped, never fatal: one bad line in a hand-edited passwd must
//! not stop every program from starting.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::pyrepr::{py_int, repr as py_repr};

pub const PASSWD_PATH: &str = "/etc/passwd";
pub const GROUP_PATH: &str = "/etc/group";

/// What a `user=` value resolves to: everything the child needs to drop
/// privileges, decided before `fork`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups for `setgroups`: the primary gid first (so a
    /// later `setgid` cannot lose it), then every group that lists the user
    /// as a member, in file order, without duplicates.
    pub groups: Vec<u32>,
}

/// Why a `user=` value does not resolve. `Display` gives supervisord's
/// configuration-time texts; `spawn_reason` its spawn-time ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserError {
    /// A name with no passwd entry.
    UnknownName(String),
    /// A number with no passwd entry.
    UnknownUid(String),
    /// The passwd file itself could not be read.
    Unreadable { path: PathBuf, errno: i32 },
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserError::UnknownName(n) => write!(f, "Invalid user name {n}"),
            UserError::UnknownUid(n) => write!(f, "Invalid user id {n}"),
            UserError::Unreadable { path, errno } => write!(
                f,
                "can't read {}: {}",
                path.display(),
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl UserError {
    /// The reason supervisord's `drop_privileges` gives when the user has
    /// vanished between configuration and spawn (the child prints it after
    /// `supervisor: couldn't setuid to {user}: `).
    pub fn spawn_reason(&self) -> String {
        match self {
            UserError::UnknownName(n) => format!("Can't find username {}", py_repr(n)),
            UserError::UnknownUid(n) => format!("Can't find uid {n}"),
            UserError::Unreadable { .. } => self.to_string(),
        }
    }
}

/// Where the two database files live; tests point these at fixtures.
#[derive(Debug, Clone)]
pub struct UserDb {
    pub passwd: PathBuf,
    pub group: PathBuf,
}

impl Default for UserDb {
    fn default() -> Self {
        UserDb {
            passwd: PathBuf::from(PASSWD_PATH),
            group: PathBuf::from(GROUP_PATH),
        }
    }
}

impl UserDb {
    /// Resolve a `user=` value (name or numeric uid) including its groups.
    /// A missing or unreadable group file only means "no supplementary
    /// groups beyond the primary one" — the user still exists.
    pub fn resolve(&self, spec: &str) -> Result<User, UserError> {
        let passwd = Passwd::read(&self.passwd)?;
        let entry = passwd.find(spec)?;
        let group_text = std::fs::read_to_string(&self.group).unwrap_or_default();
        let groups = supplementary_groups(&group_text, &entry.name, entry.gid);
        Ok(User {
            name: entry.name.clone(),
            uid: entry.uid,
            gid: entry.gid,
            groups,
        })
    }
}

/// Resolve `spec` against the system's files.
pub fn resolve(spec: &str) -> Result<User, UserError> {
    UserDb::default().resolve(spec)
}

/// One usable passwd entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// The passwd file's usable entries, in file order: read once, asked many
/// times (the config check asks once per `user=`, `~name` and socket owner).
#[derive(Debug, Clone, Default)]
pub struct Passwd {
    entries: Vec<PasswdEntry>,
}

impl Passwd {
    pub fn read(path: &Path) -> Result<Passwd, UserError> {
        read_db(path).map(|text| Passwd::parse(&text))
    }

    /// The system's /etc/passwd.
    pub fn system() -> Result<Passwd, UserError> {
        Passwd::read(Path::new(PASSWD_PATH))
    }

    pub fn parse(text: &str) -> Passwd {
        Passwd {
            entries: text.lines().filter_map(parse_passwd_line).collect(),
        }
    }

    /// `getpwnam` / `getpwuid` by supervisord's rule: a value that parses
    /// as a Python int is a uid, anything else a name; first match wins.
    pub fn find(&self, spec: &str) -> Result<&PasswdEntry, UserError> {
        match py_int(spec, 10) {
            Some(n) => u32::try_from(n)
                .ok()
                .and_then(|uid| self.by_uid(uid))
                .ok_or_else(|| UserError::UnknownUid(spec.to_string())),
            None => self
                .by_name(spec)
                .ok_or_else(|| UserError::UnknownName(spec.to_string())),
        }
    }

    pub fn by_uid(&self, uid: u32) -> Option<&PasswdEntry> {
        self.entries.iter().find(|e| e.uid == uid)
    }

    pub fn by_name(&self, name: &str) -> Option<&PasswdEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// A group's gid by name or number, from `/etc/group` (for a control
/// socket's `chown=user:group`).
pub fn group_id(spec: &str) -> Option<u32> {
    if let Ok(n) = spec.parse::<u32>() {
        return Some(n);
    }
    let text = std::fs::read_to_string(GROUP_PATH).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let gid = f.nth(1)?.parse().ok()?;
        (name == spec).then_some(gid)
    })
}

fn read_db(path: &Path) -> Result<String, UserError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| UserError::Unreadable {
            path: path.to_path_buf(),
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        })
}

/// One passwd line, or None if it is not a usable entry (comments, NIS
/// `+`/`-` lines, short or non-numeric lines).
fn parse_passwd_line(line: &str) -> Option<PasswdEntry> {
    if line.is_empty() || line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
        return None;
    }
    let mut fields = line.split(':');
    let name = fields.next()?;
    let _password = fields.next()?;
    let uid = fields.next()?.parse::<u32>().ok()?;
    let gid = fields.next()?.parse::<u32>().ok()?;
    let home = fields.nth(1).unwrap_or("");
    if name.is_empty() {
        return None;
    }
    Some(PasswdEntry {
        name: name.to_string(),
        uid,
        gid,
        home: home.to_string(),
    })
}

/// The primary gid, then every group listing `user` as a member (as
/// supervisord's `[g.gr_gid for g in getgrall() if user in g.gr_mem]`).
fn supplementary_groups(group_text: &str, user: &str, primary: u32) -> Vec<u32> {
    let mut groups = vec![primary];
    for line in group_text.lines() {
        if line.is_empty() || line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(_name), Some(_pw), Some(gid), Some(members)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(gid) = gid.trim().parse::<u32>() else {
            continue;
        };
        let is_member = members.split(',').any(|m| m.trim() == user);
        if is_member && !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    groups
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
# a comment line
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

broken line without colons
short:x:12
badnum:x:abc:1:::
+nisentry::::::
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
alice:x:1001:1001:second alice is shadowed:/:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";
    const GROUP: &str = "\
root:x:0:
daemon:x:1:
adm:x:4:syslog,alice
www-data:x:33:
garbage
bad:x:notanumber:alice
alice:x:1000:
docker:x:999:bob, alice
dup:x:1000:alice
staff:x:50:alicex,xalice
nogroup:x:65534:
";

    fn db() -> (tempdir::Dir, UserDb) {
        let d = tempdir::Dir::new("users");
        let passwd = d.path().join("passwd");
        let group = d.path().join("group");
        std::fs::File::create(&passwd)
            .and_then(|mut f| f.write_all(PASSWD.as_bytes()))
            .expect("write passwd");
        std::fs::File::create(&group)
            .and_then(|mut f| f.write_all(GROUP.as_bytes()))
            .expect("write group");
        (d, UserDb { passwd, group })
    }

    /// A throw-away directory removed on drop (no dev-dependency needed).
    pub(crate) mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        pub struct Dir(PathBuf);
        impl Dir {
            pub fn new(tag: &str) -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "rinit-test-{}-{}-{}",
                    tag,
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir_all(&p).expect("mkdir");
                Dir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn by_name_with_groups_primary_first() {
        let (_d, db) = db();
        let u = db.resolve("alice").expect("alice");
        assert_eq!(u.name, "alice");
        assert_eq!((u.uid, u.gid), (1000, 1000));
        // adm (4), docker (999, blank after comma tolerated); dup (1000) is
        // the primary gid already; staff lists only look-alike names.
        assert_eq!(u.groups, vec![1000, 4, 999]);
    }

    #[test]
    fn by_number_gives_first_entry_with_that_uid() {
        let (_d, db) = db();
        let u = db.resolve("33").expect("uid 33");
        assert_eq!(u.name, "www-data");
        assert_eq!(u.groups, vec![33]);
        let u = db.resolve("0").expect("uid 0");
        assert_eq!((u.name.as_str(), u.uid, u.gid), ("root", 0, 0));
        let u = db.resolve(" +1000 ").expect("python int() accepts blanks and +");
        assert_eq!(u.name, "alice");
    }

    #[test]
    fn unknown_users_use_supervisord_texts() {
        let (_d, db) = db();
        let e = db.resolve("mallory").unwrap_err();
        assert_eq!(e.to_string(), "Invalid user name mallory");
        assert_eq!(e.spawn_reason(), "Can't find username 'mallory'");
        let e = db.resolve("4242").unwrap_err();
        assert_eq!(e.to_string(), "Invalid user id 4242");
        assert_eq!(e.spawn_reason(), "Can't find uid 4242");
        assert_eq!(db.resolve("-1").unwrap_err().to_string(), "Invalid user id -1");
        assert_eq!(
            db.resolve("99999999999999999999999").unwrap_err().to_string(),
            "Invalid user id 99999999999999999999999"
        );
        // Malformed lines are never matched, even by their first field.
        assert!(db.resolve("broken line without colons").is_err());
        assert!(db.resolve("short").is_err());
        assert!(db.resolve("badnum").is_err());
        assert!(db.resolve("+nisentry").is_err());
        assert!(db.resolve("").is_err());
    }

    #[test]
    fn missing_files() {
        let (d, mut db) = db();
        db.group = d.path().join("no-group-file");
        assert_eq!(db.resolve("alice").expect("alice").groups, vec![1000]);
        db.passwd = d.path().join("no-passwd-file");
        let e = db.resolve("alice").unwrap_err();
        assert!(
            matches!(
                e,
                UserError::Unreadable {
                    errno: libc::ENOENT,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn system_root_resolves() {
        let u = resolve("root").expect("root in /etc/passwd");
        assert_eq!((u.uid, u.gid), (0, 0));
        assert_eq!(u.groups.first(), Some(&0));
    }
}

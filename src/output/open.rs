//! Opening the files rinit writes (program log files, the activity log, the
//! pidfile): supervisord's flags, an explicit mode, and the kernel's
//! `fs.protected_symlinks` rule applied by rinit itself (docs/output.md,
//! "Files and symlinks").
//!
//! * Files are created with mode 0644 whatever the umask (a `umask=000`
//!   must not make the pidfile world-writable).
//! * In a sticky, world-writable directory (`/tmp`), a symlink is followed
//!   only when it is owned by root or by the directory's owner: otherwise
//!   any user could point rinit's root-owned log at `/etc/shadow`. Hosts
//!   where `fs.protected_symlinks=0` get the same protection.
//! * `/proc/...` magic links (`/dev/stdout` → `/proc/self/fd/1` →
//!   `pipe:[N]`) are opened by the kernel's own resolution: they cannot be
//!   resolved by path, and /proc is not world-writable.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every file rinit creates.
pub const FILE_MODE: u32 = 0o644;

/// How to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// `O_APPEND`, created if missing (supervisord's `ab`).
    Append,
    /// `O_TRUNC`, created if missing (supervisord's `wb`: pidfile, and a
    /// log file after rotation with `_backups=0`).
    Truncate,
}

/// Open `path` for writing as described in the module comment. With
/// `nonblock`, a FIFO or a terminal is opened `O_NONBLOCK` (a FIFO without
/// a reader then fails with ENXIO instead of blocking PID 1 forever).
pub fn open_for_write(path: &Path, how: How, nonblock: bool) -> io::Result<File> {
    let (target, follow_last) = resolve(path)?;
    let mut flags = libc::O_CLOEXEC | libc::O_NOCTTY;
    if !follow_last {
        // The checked name must not have become a symlink since the check.
        flags |= libc::O_NOFOLLOW;
    }
    if nonblock {
        flags |= libc::O_NONBLOCK;
    }
    let mut o = OpenOptions::new();
    o.write(true).custom_flags(flags).mode(FILE_MODE);
    match how {
        How::Append => o.append(true),
        How::Truncate => o.truncate(true),
    };
    // First try to create it, so that we know whether to fix its mode.
    let created = o.clone().create_new(true).open(&target);
    match created {
        Ok(f) => {
            // The umask may have taken bits away from FILE_MODE.
            let _ = f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE));
            Ok(f)
        }
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => o.open(&target),
        Err(e) => Err(e),
    }
}

/// Whether `p` lies in /proc (directly or through a link such as
/// `/dev/fd` → `/proc/self/fd`): its links are the kernel's to resolve.
fn in_proc(p: &Path) -> bool {
    if p.starts_with("/proc/") {
        return true;
    }
    p.parent().is_some_and(dir_on_procfs)
}

/// Whether directory `d`, links followed, is on a procfs mount: one
/// `statfs`. (`realpath` and a name test asked the kernel once per path
/// component and took 16 KiB of stack, four page faults at start-up.)
/// False when it cannot be asked (missing, too long, empty).
fn dir_on_procfs(d: &Path) -> bool {
    use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC};
    !d.as_os_str().is_empty() && statfs(d).is_ok_and(|fs| fs.filesystem_type() == PROC_SUPER_MAGIC)
}

/// Why a symlink was not followed (the caller adds the path it opened).
fn refused(link: &Path, uid: u32, dir: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "not following symlink {} owned by uid {uid} in sticky world-writable directory {} (EACCES)",
            link.display(),
            dir.display()
        ),
    )
}

/// Follow `path`'s last component through symlinks, refusing the links
/// `fs.protected_symlinks` would refuse. Returns the name to open.
pub fn resolve_safely(path: &Path) -> io::Result<PathBuf> {
    resolve(path).map(|(p, _)| p)
}

/// [`resolve_safely`], and whether the name returned lies in /proc (then
/// its last component is the kernel's to follow).
fn resolve(path: &Path) -> io::Result<(PathBuf, bool)> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        if in_proc(&p) {
            return Ok((p, true));
        }
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((p, false)),
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return Ok((p, false));
        }
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dmeta = std::fs::metadata(&dir)?;
        let sticky_world_writable = dmeta.mode() & 0o1002 == 0o1002;
        if sticky_world_writable && meta.uid() != 0 && meta.uid() != dmeta.uid() {
            return Err(refused(&p, meta.uid(), &dir));
        }
        let target = std::fs::read_link(&p)?;
        p = if target.is_absolute() {
            target
        } else {
            dir.join(target)
        };
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// The errno name for messages in supervisord's style (`EACCES`), also for
/// the refusal above, which is what the kernel's rule would have returned.
pub fn errno_word(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::spawn::errno_text(n),
        None if e.kind() == io::ErrorKind::PermissionDenied => "EACCES".to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rinit-open-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn created_files_are_0644_whatever_the_umask() {
        let d = tmp("mode");
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let f = d.join("a.log");
        drop(open_for_write(&f, How::Append, false).unwrap());
        let p = d.join("a.pid");
        drop(open_for_write(&p, How::Truncate, false).unwrap());
        nix::sys::stat::umask(old);
        for x in [f, p] {
            assert_eq!(std::fs::metadata(&x).unwrap().mode() & 0o7777, 0o644, "{x:?}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn ordinary_symlinks_and_dev_stdout_are_followed() {
        let d = tmp("follow");
        std::fs::write(d.join("real"), "").unwrap();
        symlink(d.join("real"), d.join("link")).unwrap();
        assert_eq!(resolve_safely(&d.join("link")).unwrap(), d.join("real"));
        assert_eq!(
            resolve_safely(Path::new("/dev/stdout")).unwrap(),
            PathBuf::from("/proc/self/fd/1")
        );
        assert!(open_for_write(Path::new("/dev/null"), How::Append, true).is_ok());
        // /dev/fd/N → /proc/self/fd/N → `pipe:[…]`: left to the kernel.
        assert_eq!(
            resolve_safely(Path::new("/dev/fd/1")).unwrap(),
            PathBuf::from("/dev/fd/1")
        );
        assert!(open_for_write(Path::new("/dev/fd/2"), How::Append, true).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn in_proc_looks_through_directory_links() {
        let d = tmp("inproc");
        symlink("/proc", d.join("p")).unwrap();
        symlink("/", d.join("root")).unwrap();
        assert!(in_proc(&d.join("p/self")));
        assert!(in_proc(&d.join("root/proc/self")));
        assert!(in_proc(Path::new("/dev/fd/1")));
        assert!(!in_proc(&d.join("root/procx/self")));
        assert!(!in_proc(&d.join("missing/x")));
        assert!(!in_proc(Path::new("relative.log")));
        assert!(!in_proc(Path::new("/tmp/a.log")));
        let long = format!("/{}/x", "a/".repeat(libc::PATH_MAX as usize));
        assert!(!in_proc(Path::new(&long)));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_stranger_symlink_in_a_sticky_world_writable_dir_is_not_followed() {
        assert!(nix::unistd::geteuid().is_root(), "this test needs root (lchown)");
        let d = tmp("sticky");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let secret = d.join("secret");
        std::fs::write(&secret, "root only\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let planted = d.join("app.log");
        symlink(&secret, &planted).unwrap();
        std::os::unix::fs::lchown(&planted, Some(65534), Some(65534)).unwrap();
        let e = open_for_write(&planted, How::Append, false).unwrap_err();
        assert_eq!(errno_word(&e), "EACCES");
        assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root only\n");
        // Owned by root (the directory's owner here): followed.
        std::os::unix::fs::lchown(&planted, Some(0), Some(0)).unwrap();
        assert!(open_for_write(&planted, How::Append, false).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }
}

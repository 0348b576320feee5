//! supervisord's rotating log file (its `RotatingFileHandler`), for program
//! log files and the activity log (docs/output.md, "Log files").
//!
//! * Each chunk is written whole, then, when the file has reached
//!   `maxbytes`, it rotates: `f.{N-1}` → `f.{N}` … `f.1` → `f.2`, `f` →
//!   `f.1`, and a new empty `f`. Files are therefore a little larger than
//!   `maxbytes`, exactly as supervisord's are.
//! * `maxbytes=0` never rotates; `backups=0` truncates `f` in place.
//! * supervisord tests `exists(f.i)` for every `i` below `backups`, which
//!   froze it (and would freeze PID 1) with `backups=4294967295`. rinit reads
//!   the directory once instead and renames only the backups that exist,
//!   highest first: the same result in O(files in the directory).

use super::open::{open_for_write, How};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

pub struct RotatingFile {
    path: PathBuf,
    maxbytes: u64,
    backups: u32,
    file: Option<File>,
}

impl RotatingFile {
    /// Open (append, create 0644) `path`.
    pub fn open(path: &Path, maxbytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let file = open_for_write(path, How::Append, false)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            maxbytes,
            backups,
            file: Some(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write one chunk, then rotate if the file is due. A failing write
    /// (disk full) is returned; the file stays open for the next chunk.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            // A previous reopen failed: try again now.
            self.reopen()?;
            return self.write(data);
        };
        let r = f.write_all(data);
        self.rotate_if_due()?;
        r
    }

    /// Close and reopen by name (SIGUSR2, after logrotate moved the file).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        self.file = Some(open_for_write(&self.path, How::Append, false)?);
        Ok(())
    }

    fn rotate_if_due(&mut self) -> io::Result<()> {
        if self.maxbytes == 0 {
            return Ok(());
        }
        let Some(f) = self.file.as_ref() else {
            return Ok(());
        };
        let meta = f.metadata()?;
        // Only a regular file has a size to reach (a FIFO given as a log
        // file is written without rotation: no `Illegal seek`).
        if !meta.file_type().is_file() || meta.len() < self.maxbytes {
            return Ok(());
        }
        self.file = None;
        let how = if self.backups > 0 {
            shift_backups(&self.path, self.backups)?;
            How::Append
        } else {
            How::Truncate
        };
        self.file = Some(open_for_write(&self.path, how, false)?);
        Ok(())
    }
}

/// `f.N` for backup number `n`.
pub fn backup_name(path: &Path, n: u64) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The backup numbers `1..limit` that exist next to `path`, from one read
/// of its directory. Only names supervisord would have made count (`f.7`,
/// not `f.07` or `f.7x`).
fn existing_backups(path: &Path, limit: u64) -> io::Result<Vec<u64>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(base) = path.file_name() else {
        return Ok(Vec::new());
    };
    let mut prefix = base.as_bytes().to_vec();
    prefix.push(b'.');
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().into_vec();
        let Some(digits) = name.strip_prefix(prefix.as_slice()) else {
            continue;
        };
        if digits.is_empty()
            || digits.len() > 20
            || digits[0] == b'0'
            || !digits.iter().all(u8::is_ascii_digit)
        {
            continue;
        }
        let Ok(n) = std::str::from_utf8(digits).unwrap_or("x").parse::<u64>() else {
            continue;
        };
        if n >= 1 && n < limit {
            found.push(n);
        }
    }
    found.sort_unstable_by(|a, b| b.cmp(a));
    Ok(found)
}

/// supervisord's `doRollover` renames, in O(existing files): every existing
/// `f.i` (i < backups), highest first, to `f.{i+1}`, then `f` to `f.1`.
/// A vanished source (a cleanup script) is not an error, as in supervisord.
pub fn shift_backups(path: &Path, backups: u32) -> io::Result<()> {
    for i in existing_backups(path, u64::from(backups))? {
        rename_quiet(&backup_name(path, i), &backup_name(path, i + 1))?;
    }
    rename_quiet(path, &backup_name(path, 1))
}

fn rename_quiet(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rinit-rot-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(d: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rotates_like_supervisord_after_the_chunk_that_reaches_maxbytes() {
        let d = tmp("sizes");
        let f = d.join("x.log");
        let mut r = RotatingFile::open(&f, 1000, 2).unwrap();
        for _ in 0..35 {
            r.write(&[b'a'; 99]).unwrap();
            r.write(b"\n").unwrap();
        }
        // 10 lines of 100 bytes reach 1000: three rotations, two kept.
        assert_eq!(
            names(&d),
            vec![
                ("x.log".into(), 500),
                ("x.log.1".into(), 1000),
                ("x.log.2".into(), 1000)
            ]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn zero_backups_truncates_in_place_and_zero_maxbytes_never_rotates() {
        let d = tmp("zero");
        let f = d.join("x.log");
        let mut r = RotatingFile::open(&f, 10, 0).unwrap();
        r.write(b"0123456789ab").unwrap();
        r.write(b"cd").unwrap();
        assert_eq!(names(&d), vec![("x.log".into(), 2)]);
        let mut r = RotatingFile::open(&d.join("y.log"), 0, 3).unwrap();
        for _ in 0..100 {
            r.write(b"0123456789").unwrap();
        }
        assert_eq!(names(&d), vec![("x.log".into(), 2), ("y.log".into(), 1000)]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn huge_backups_count_rotates_at_once() {
        // Issue 9 item 4: logfile_backups=4294967295 froze PID 1.
        let d = tmp("huge");
        let f = d.join("x.log");
        let mut r = RotatingFile::open(&f, 10, u32::MAX).unwrap();
        let start = std::time::Instant::now();
        for _ in 0..50 {
            r.write(b"0123456789").unwrap();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(backup_name(&f, 49).exists() && !backup_name(&f, 51).exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn gaps_and_foreign_names_are_handled_as_supervisord_does() {
        let d = tmp("gaps");
        let f = d.join("x.log");
        for n in ["x.log", "x.log.1", "x.log.3", "x.log.03", "x.log.9", "x.logx.1"] {
            std::fs::write(d.join(n), n).unwrap();
        }
        shift_backups(&f, 4).unwrap();
        // supervisord: .3 -> .4, .1 -> .2, x.log -> .1; .9 (>= backups) and
        // foreign names untouched.
        let got: Vec<String> = names(&d).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            got,
            ["x.log.03", "x.log.1", "x.log.2", "x.log.4", "x.log.9", "x.logx.1"]
        );
        assert_eq!(std::fs::read_to_string(d.join("x.log.4")).unwrap(), "x.log.3");
        assert_eq!(std::fs::read_to_string(d.join("x.log.1")).unwrap(), "x.log");
        let _ = std::fs::remove_dir_all(&d);
    }
}

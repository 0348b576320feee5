//! What a reload changes: the groups added, changed and removed between the
//! running configuration and a newly read one, compared as supervisord's
//! `reread` compares them (docs/reload.md).

use crate::config::{GroupConfig, ListenerConfig, LogDest, ProcessConfig};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// In the new config's group order.
    pub added: Vec<String>,
    /// In the new config's group order.
    pub changed: Vec<String>,
    /// In the running config's group order.
    pub removed: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Groups by name: a group is changed when anything that affects its
/// processes differs. Where a value was written (file and line) is not a
/// difference: an edit above a section must not restart it.
pub fn diff(running: &[GroupConfig], new: &[GroupConfig]) -> Diff {
    let prints = |gs: &[GroupConfig]| -> Vec<(String, u64)> {
        gs.iter().map(|g| (g.name.clone(), fingerprint(g))).collect()
    };
    diff_prints(&prints(running), &prints(new))
}

/// [`diff`] over (name, [`fingerprint`]) pairs: what the loop keeps of the
/// configuration it runs, instead of a second copy of every process's
/// settings.
pub fn diff_prints(running: &[(String, u64)], new: &[(String, u64)]) -> Diff {
    let find = |gs: &[(String, u64)], name: &str| gs.iter().find(|(n, _)| n == name).map(|(_, f)| *f);
    let mut d = Diff::default();
    for (name, print) in new {
        match find(running, name) {
            None => d.added.push(name.clone()),
            Some(old) if old != *print => d.changed.push(name.clone()),
            Some(_) => {}
        }
    }
    for (name, _) in running {
        if find(new, name).is_none() {
            d.removed.push(name.clone());
        }
    }
    d
}

/// A digest of everything in a group that affects its processes, with the
/// places values were written left out. Fed field by field (formatting every
/// group with `Debug` cost a tenth of rinit's start-up); the structs are
/// destructured without `..`, so a new field cannot be left out unnoticed.
pub fn fingerprint(g: &GroupConfig) -> u64 {
    use std::hash::Hasher;
    // DefaultHasher::new() has fixed keys: the same settings, the same digest.
    let mut h = Blocks::new(std::collections::hash_map::DefaultHasher::new());
    feed_group(g, &mut h);
    h.finish()
}

/// SipHash, which `DefaultHasher` is, digests a stream of bytes: many small
/// writes give the digest of one write of them all, but each write pays
/// for the bookkeeping of its partial word (a field is a few bytes, and the
/// ~50 writes per process were four fifths of the digest's cost). This
/// hands them over in blocks.
struct Blocks<H> {
    inner: H,
    buf: [u8; 128],
    len: usize,
}

impl<H: std::hash::Hasher + Clone> Blocks<H> {
    fn new(inner: H) -> Blocks<H> {
        Blocks {
            inner,
            buf: [0; 128],
            len: 0,
        }
    }

    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        match self.buf.get_mut(self.len..self.len + N) {
            Some(dst) => {
                dst.copy_from_slice(&bytes);
                self.len += N;
            }
            None => std::hash::Hasher::write(self, &bytes),
        }
    }
}

impl<H: std::hash::Hasher + Clone> std::hash::Hasher for Blocks<H> {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
            return;
        }
        self.inner.write(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
        match self.buf.get_mut(..bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = bytes.len();
            }
            None => self.inner.write(bytes),
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.put(i.to_ne_bytes());
    }

    fn write_u32(&mut self, i: u32) {
        self.put(i.to_ne_bytes());
    }

    fn write_i32(&mut self, i: i32) {
        self.put(i.to_ne_bytes());
    }

    fn write_u64(&mut self, i: u64) {
        self.put(i.to_ne_bytes());
    }

    fn write_usize(&mut self, i: usize) {
        self.put(i.to_ne_bytes());
    }

    fn finish(&self) -> u64 {
        let mut last = self.inner.clone();
        last.write(self.buf.get(..self.len).unwrap_or_default());
        last.finish()
    }
}

fn feed_group(g: &GroupConfig, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    let GroupConfig {
        name: _,
        section: _,
        kind,
        listener,
        priority,
        programs,
        processes,
    } = g;
    std::mem::discriminant(kind).hash(h);
    priority.hash(h);
    programs.hash(h);
    match listener {
        None => 0u8.hash(h),
        Some(ListenerConfig {
            events,
            buffer_size,
            result_handler,
        }) => {
            1u8.hash(h);
            events.hash(h);
            buffer_size.hash(h);
            result_handler.hash(h);
        }
    }
    processes.len().hash(h);
    for p in processes {
        hash_process(p, h);
    }
}

fn hash_process(p: &ProcessConfig, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    use std::mem::discriminant;
    let ProcessConfig {
        name,
        group,
        section,
        origin: _,
        command,
        numprocs,
        numprocs_start,
        process_num,
        priority,
        autostart,
        startsecs,
        startretries,
        autorestart,
        exitcodes,
        stopsignal,
        stopwaitsecs,
        stopasgroup,
        killasgroup,
        user,
        directory,
        umask,
        redirect_stderr,
        stdout_logfile,
        stderr_logfile,
        stdout,
        stderr,
        stdout_logfile_maxbytes,
        stdout_logfile_backups,
        stdout_capture_maxbytes,
        stdout_events_enabled,
        stdout_syslog,
        stderr_logfile_maxbytes,
        stderr_logfile_backups,
        stderr_capture_maxbytes,
        stderr_events_enabled,
        stderr_syslog,
        environment,
        serverurl,
        shutdown_on,
        output_prefix,
    } = p;
    (name, group, section, command).hash(h);
    (numprocs, numprocs_start, process_num, priority).hash(h);
    (
        autostart,
        startsecs,
        startretries,
        discriminant(autorestart),
        exitcodes,
    )
        .hash(h);
    (stopsignal, stopwaitsecs, stopasgroup, killasgroup).hash(h);
    (user, directory, umask, redirect_stderr).hash(h);
    (stdout_logfile, stderr_logfile).hash(h);
    for dest in [stdout, stderr] {
        discriminant(dest).hash(h);
        if let LogDest::File(path) = dest {
            path.hash(h);
        }
    }
    (
        stdout_logfile_maxbytes,
        stdout_logfile_backups,
        stdout_capture_maxbytes,
    )
        .hash(h);
    (stdout_events_enabled, stdout_syslog).hash(h);
    (
        stderr_logfile_maxbytes,
        stderr_logfile_backups,
        stderr_capture_maxbytes,
    )
        .hash(h);
    (stderr_events_enabled, stderr_syslog).hash(h);
    (environment, serverurl, discriminant(shutdown_on), output_prefix).hash(h);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, LoadOptions};

    const BASE: &str = "[supervisord]\n[program:a]\ncommand=sleep 1\n[program:b]\ncommand=sleep 2\n";

    fn groups(text: &str) -> Vec<GroupConfig> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rinit-reload-{}-{}.conf",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, text).unwrap();
        let mut opts = LoadOptions::from_host();
        opts.host_checks = false;
        let cfg = load(&path, &opts).unwrap();
        let _ = std::fs::remove_file(&path);
        cfg.groups
    }

    #[test]
    fn blocks_give_siphashs_own_digest() {
        use std::hash::Hasher;
        let long = "x".repeat(300);
        let text = format!(
            "{BASE}[program:c]\ncommand=sleep {long}\nenvironment=A=\"{long}\",B=2\n\
             [eventlistener:l]\ncommand=cat\nevents=TICK_5\n"
        );
        for g in groups(&text) {
            let mut direct = std::collections::hash_map::DefaultHasher::new();
            feed_group(&g, &mut direct);
            assert_eq!(fingerprint(&g), direct.finish(), "{}", g.name);
        }
    }

    #[test]
    fn nothing_changed_when_only_lines_moved() {
        let moved = format!("\n\n; a comment\n{BASE}");
        assert!(diff(&groups(BASE), &groups(&moved)).is_empty());
    }

    #[test]
    fn added_changed_and_removed_by_name() {
        let new = "[supervisord]\n[program:a]\ncommand=sleep 5\n[program:c]\ncommand=sleep 3\n";
        let d = diff(&groups(BASE), &groups(new));
        assert_eq!(d.added, ["c"]);
        assert_eq!(d.changed, ["a"]);
        assert_eq!(d.removed, ["b"]);
    }

    #[test]
    fn numprocs_and_group_membership_are_changes() {
        let more = BASE.replace(
            "command=sleep 2\n",
            "command=sleep 2\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n",
        );
        assert_eq!(diff(&groups(BASE), &groups(&more)).changed, ["b"]);
        let grouped = format!("{BASE}[group:g]\nprograms=a,b\n");
        let d = diff(&groups(BASE), &groups(&grouped));
        assert_eq!(d.added, ["g"]);
        assert_eq!(d.removed, ["a", "b"]);
    }

    #[test]
    fn every_kind_of_setting_is_a_change() {
        // Fed field by field: a string, a number, an enum, a path and a
        // listener setting each change the digest.
        for edit in [
            "command=sleep 2\nuser=nobody\n",
            "command=sleep 2\nstartsecs=5\n",
            "command=sleep 2\nautorestart=true\n",
            "command=sleep 2\nstdout_logfile=/tmp/x.log\n",
            "command=sleep 2\nenvironment=A=1\n",
        ] {
            let new = BASE.replace("command=sleep 2\n", edit);
            assert_eq!(diff(&groups(BASE), &groups(&new)).changed, ["b"], "{edit}");
        }
        let pool = "[supervisord]\n[eventlistener:l]\ncommand=cat\nevents=TICK_5\n";
        let bigger = pool.replace("events=TICK_5\n", "events=TICK_5\nbuffer_size=20\n");
        assert_eq!(diff(&groups(pool), &groups(&bigger)).changed, ["l"]);
        assert!(diff(&groups(pool), &groups(pool)).is_empty());
    }
}

//! What a reload changes: the groups added, changed and removed between the
//! running configuration and a newly read one, compared as supervisord's
//! `reread` compares them (docs/reload.md).

use crate::config::{GroupConfig, Origin, ProcessConfig};

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
/// places values were written left out.
pub fn fingerprint(g: &GroupConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let unplaced: Vec<ProcessConfig> = g
        .processes
        .iter()
        .map(|p| ProcessConfig {
            origin: Origin::default(),
            ..p.clone()
        })
        .collect();
    // DefaultHasher::new() has fixed keys: the same text, the same digest.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!(
        "{:?}|{:?}|{}|{:?}|{:?}",
        g.kind, g.listener, g.priority, g.programs, unplaced
    )
    .hash(&mut h);
    h.finish()
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
}

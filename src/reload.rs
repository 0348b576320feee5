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
    let find = |groups: &[GroupConfig], name: &str| groups.iter().position(|g| g.name == name);
    let mut d = Diff::default();
    for g in new {
        match find(running, &g.name).and_then(|i| running.get(i)) {
            None => d.added.push(g.name.clone()),
            Some(old) if !same_group(old, g) => d.changed.push(g.name.clone()),
            Some(_) => {}
        }
    }
    for g in running {
        if find(new, &g.name).is_none() {
            d.removed.push(g.name.clone());
        }
    }
    d
}

fn same_group(a: &GroupConfig, b: &GroupConfig) -> bool {
    a.name == b.name
        && a.kind == b.kind
        && a.priority == b.priority
        && a.listener == b.listener
        && a.processes.len() == b.processes.len()
        && a.processes
            .iter()
            .zip(&b.processes)
            .all(|(p, q)| same_process(p, q))
}

/// Equal in everything but where it was written.
pub fn same_process(a: &ProcessConfig, b: &ProcessConfig) -> bool {
    let unplaced = |p: &ProcessConfig| ProcessConfig {
        origin: Origin::default(),
        ..p.clone()
    };
    unplaced(a) == unplaced(b)
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

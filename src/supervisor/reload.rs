//! SIGHUP: read the configuration again with the same command line and
//! apply the difference group by group, as `supervisorctl update` does
//! (docs/reload.md). A broken file changes nothing.
//!
//! Process indexes never move: the processes of a removed or changed group
//! are stopped and retired (never started again, hidden from the control
//! interface); those of an added or changed group are appended. A changed
//! group's new processes start once its old ones have stopped.

use super::Supervisor;
use crate::config::{Config, GroupConfig, ProcessConfig, SupervisordConfig};
use crate::ctl::rpc::faults;
use crate::log::Level;
use crate::machine::{Millis, Process};
use crate::reload::{diff_prints, fingerprint, Diff};

/// The same process in two readings of the file: equal in everything but
/// where it was written and the group's `numprocs` (a value already
/// expanded into any setting that used it).
fn same_instance(a: &ProcessConfig, b: &ProcessConfig) -> bool {
    let plain = |p: &ProcessConfig| ProcessConfig {
        origin: Default::default(),
        numprocs: 0,
        ..p.clone()
    };
    plain(a) == plain(b)
}

fn prints(cfg: &Config) -> Vec<(String, u64)> {
    cfg.groups
        .iter()
        .map(|g| (g.name.clone(), fingerprint(g)))
        .collect()
}

/// Reads the configuration again: the same file, the same command-line
/// overrides as at start. `Err` is the message to log (`FILE:LINE: …`).
pub type Loader = Box<dyn Fn() -> Result<Config, String>>;

#[derive(Default)]
pub struct Reloads {
    loader: Option<Loader>,
    /// The groups being run, in order: name, fingerprint, process indexes.
    applied: Vec<(String, u64, Vec<usize>)>,
    /// Per process index: no longer in the configuration.
    retired: Vec<bool>,
    /// Per process index: waits for its group's old processes to stop.
    held: Vec<bool>,
    /// (old processes that must stop first, new ones to start then).
    waits: Vec<(Vec<usize>, Vec<usize>)>,
    /// `[supervisord]` as running: it cannot change without a restart.
    supervisord: Option<SupervisordConfig>,
    /// The file as `reread` last read it, for `addProcessGroup`.
    pending: Option<Config>,
}

impl Reloads {
    /// `supervisord` is the running `[supervisord]` section, kept (not
    /// copied) to compare a reloaded one with.
    pub fn new(groups: &[GroupConfig], supervisord: SupervisordConfig) -> Reloads {
        let mut applied = Vec::new();
        let mut next = 0;
        for g in groups {
            let idx: Vec<usize> = (next..next + g.processes.len()).collect();
            next += g.processes.len();
            applied.push((g.name.clone(), fingerprint(g), idx));
        }
        Reloads {
            loader: None,
            applied,
            retired: vec![false; next],
            held: vec![false; next],
            waits: Vec::new(),
            supervisord: Some(supervisord),
            pending: None,
        }
    }

    pub fn set_loader(&mut self, load: Loader) {
        self.loader = Some(load);
    }

    /// Process `i` waits for its group's old processes before it starts.
    pub fn held(&self, i: usize) -> bool {
        self.held.get(i).copied().unwrap_or(false)
    }

    /// Process `i` left the configuration.
    pub fn retired(&self, i: usize) -> bool {
        self.retired.get(i).copied().unwrap_or(false)
    }
}

impl Supervisor {
    /// SIGHUP outside a shutdown: apply what changed.
    pub(super) fn reload(&mut self) {
        match self.read_config() {
            Ok(cfg) => self.apply_config(cfg, false),
            Err(e) => {
                let msg = format!("reload failed, the running configuration is kept: {e}");
                self.logger.log(Level::Erro, &msg);
            }
        }
    }

    /// `supervisorctl reload` (`supervisor.restart`): every group stopped
    /// and started again from the file; a broken file changes nothing.
    pub(super) fn restart_all(&mut self) {
        match self.read_config() {
            Ok(cfg) => self.apply_config(cfg, true),
            Err(e) => {
                let msg = format!("restart failed, the running configuration is kept: {e}");
                self.logger.log(Level::Erro, &msg);
            }
        }
    }

    fn read_config(&self) -> Result<Config, String> {
        match self.reloads.loader.as_ref() {
            Some(load) => load(),
            None => Err("no configuration file to read again".to_string()),
        }
    }

    /// `supervisorctl reread` (`supervisor.reloadConfig`): read the file,
    /// keep it for `addProcessGroup`, and say what differs; nothing is
    /// applied.
    pub(super) fn reread_config(&mut self) -> Result<Diff, String> {
        let cfg = self.read_config()?;
        let diff = diff_prints(&self.running_prints(), &prints(&cfg));
        self.reloads.pending = Some(cfg);
        Ok(diff)
    }

    /// `supervisor.addProcessGroup`: start a group of the file last read
    /// by `reread`. `Err` is the fault: BAD_NAME or ALREADY_ADDED.
    pub(super) fn add_group_named(&mut self, name: &str) -> Result<(), i32> {
        if self.indexes_of(name).is_some() {
            return Err(faults::ALREADY_ADDED);
        }
        let Some(cfg) = self.reloads.pending.as_ref() else {
            return Err(faults::BAD_NAME);
        };
        let Some(g) = cfg.groups.iter().find(|g| g.name == name).cloned() else {
            return Err(faults::BAD_NAME);
        };
        let serverurl = cfg.serverurl.clone();
        let print = fingerprint(&g);
        let idx = self.append_group(g, &serverurl, false, &[]);
        self.reloads.applied.push((name.to_string(), print, idx));
        self.tap_output_for_events();
        Ok(())
    }

    /// `supervisor.removeProcessGroup`: forget a stopped group. `Err` is
    /// the fault: BAD_NAME or STILL_RUNNING.
    pub(super) fn remove_group_named(&mut self, name: &str) -> Result<(), i32> {
        let Some(idx) = self.indexes_of(name) else {
            return Err(faults::BAD_NAME);
        };
        if idx
            .iter()
            .any(|&i| self.procs.get(i).is_some_and(|p| !p.state().is_stopped_class()))
        {
            return Err(faults::STILL_RUNNING);
        }
        let now = self.now();
        self.retire_group(name, &idx, now);
        self.reloads.applied.retain(|(n, _, _)| n != name);
        Ok(())
    }

    fn running_prints(&self) -> Vec<(String, u64)> {
        self.reloads
            .applied
            .iter()
            .map(|(n, f, _)| (n.clone(), *f))
            .collect()
    }

    fn indexes_of(&self, name: &str) -> Option<Vec<usize>> {
        self.reloads
            .applied
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| v.clone())
    }

    /// `everything`: every group counts as changed (a restart).
    fn apply_config(&mut self, cfg: Config, everything: bool) {
        let now = self.now();
        let new = prints(&cfg);
        let mut diff = diff_prints(&self.running_prints(), &new);
        if everything {
            diff.changed = new
                .iter()
                .map(|(n, _)| n.clone())
                .filter(|n| !diff.added.contains(n))
                .collect();
        }
        self.apply_supervisord(&cfg.supervisord);
        if diff.is_empty() {
            self.logger.log(Level::Info, "reload: no change to the programs");
        }
        // A changed group of programs keeps the processes whose settings
        // are the same (a `numprocs` change starts or stops only the
        // instances that come or go); a pool, or a restart, is replaced.
        let mut kept: Vec<(String, Vec<Option<usize>>)> = Vec::new();
        for g in cfg.groups.iter().filter(|g| diff.changed.contains(&g.name)) {
            let old = self.indexes_of(&g.name).unwrap_or_default();
            let keep: Vec<Option<usize>> = g
                .processes
                .iter()
                .map(|p| {
                    let same = |&i: &usize| self.procs.get(i).is_some_and(|o| same_instance(&o.cfg, p));
                    old.iter()
                        .copied()
                        .find(|i| !everything && g.listener.is_none() && same(i))
                })
                .collect();
            kept.push((g.name.clone(), keep));
        }
        let kept_of = |name: &str| kept.iter().find(|(n, _)| n == name).map(|(_, k)| k.clone());
        // What goes: removed groups, and the old processes of changed ones
        // that are not kept.
        let mut old_of: Vec<(String, Vec<usize>)> = Vec::new();
        for name in diff.removed.iter().chain(&diff.changed) {
            let keep = kept_of(name).unwrap_or_default();
            let idx: Vec<usize> = self
                .indexes_of(name)
                .unwrap_or_default()
                .into_iter()
                .filter(|i| !keep.contains(&Some(*i)))
                .collect();
            self.retire_group(name, &idx, now);
            if diff.removed.contains(name) {
                self.logger
                    .log(Level::Info, &format!("reload: removed group {name}"));
            }
            old_of.push((name.clone(), idx));
        }
        // What comes, in the new file's order; the rest keeps its processes.
        let mut applied = Vec::new();
        for (g, (name, print)) in cfg.groups.into_iter().zip(new) {
            let changed = diff.changed.contains(&name);
            if !changed && !diff.added.contains(&name) {
                let idx = self.indexes_of(&name).unwrap_or_default();
                applied.push((name, print, idx));
                continue;
            }
            let keep = kept_of(&name).unwrap_or_default();
            let idx = self.append_group(g, &cfg.serverurl, changed, &keep);
            let verb = if changed { "changed" } else { "added" };
            self.logger
                .log(Level::Info, &format!("reload: {verb} group {name}"));
            if changed {
                let old = old_of
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let fresh: Vec<usize> = idx
                    .iter()
                    .copied()
                    .filter(|i| !keep.contains(&Some(*i)))
                    .collect();
                self.reloads.waits.push((old, fresh));
            }
            applied.push((name, print, idx));
        }
        self.reloads.applied = applied;
        self.reloads.supervisord = Some(cfg.supervisord);
        self.reloads.pending = None;
        self.tap_output_for_events();
        // The appended processes are started by the boot batches (held
        // ones once their predecessors stopped: `start_released`).
        if let Err(e) = self.logger.reopen() {
            self.logger.log(Level::Crit, &e);
        }
    }

    /// `[supervisord]`: the activity log's settings (`loglevel`, `logfile`
    /// and its rotation, `silent`) apply at once; any other change waits
    /// for a restart of the container, and says so.
    fn apply_supervisord(&mut self, new: &SupervisordConfig) {
        let Some(old) = self.reloads.supervisord.as_ref() else {
            return;
        };
        let log_part = |s: &SupervisordConfig| {
            (
                s.loglevel.clone(),
                s.logfile.clone(),
                s.logfile_maxbytes,
                s.logfile_backups,
                s.silent,
            )
        };
        let log_changed = log_part(old) != log_part(new);
        let rest_changed = SupervisordConfig {
            loglevel: new.loglevel.clone(),
            logfile: new.logfile.clone(),
            logfile_maxbytes: new.logfile_maxbytes,
            logfile_backups: new.logfile_backups,
            silent: new.silent,
            ..old.clone()
        } != *new;
        if log_changed {
            crate::startup::configure_activity_log(&mut self.logger, new);
            let msg = format!(
                "reload: activity log settings applied (loglevel {})",
                new.loglevel
            );
            self.logger.log(Level::Info, &msg);
        }
        if rest_changed {
            self.logger.log(
                Level::Warn,
                "reload: [supervisord] settings other than the activity log's changed; they take effect when the container restarts",
            );
        }
    }

    /// Stop a group's processes for good; its pool takes no more events.
    fn retire_group(&mut self, name: &str, idx: &[usize], now: Millis) {
        for &i in idx {
            self.retire(i, now);
        }
        self.listeners.remove_group(name, &mut self.logger);
    }

    /// A group's processes, in its order: `keep[k]` is an old process that
    /// stays for the k-th one (its settings refreshed), else a new one is
    /// appended (started by the boot batches unless `held`). Returns their
    /// indexes.
    fn append_group(
        &mut self,
        g: GroupConfig,
        serverurl: &Option<String>,
        held: bool,
        keep: &[Option<usize>],
    ) -> Vec<usize> {
        let first = self.procs.len();
        self.listeners.add_group(&g, first, &mut self.logger);
        let mut idx = Vec::new();
        for (k, mut p) in g.processes.into_iter().enumerate() {
            if p.serverurl.is_none() {
                p.serverurl.clone_from(serverurl);
            }
            if let Some(i) = keep.get(k).copied().flatten() {
                if let Some(old) = self.procs.get_mut(i) {
                    old.cfg = p;
                }
                if let Some(prio) = self.group_priority.get_mut(i) {
                    *prio = g.priority;
                }
                idx.push(i);
                continue;
            }
            self.procs.push(Process::new(p));
            self.group_priority.push(g.priority);
            self.reloads.retired.push(false);
            self.reloads.held.push(held);
            idx.push(self.procs.len() - 1);
        }
        idx
    }

    /// Stop process `i` for good: it left the configuration.
    fn retire(&mut self, i: usize, now: Millis) {
        if self.reloads.retired(i) {
            return;
        }
        if let Some(r) = self.reloads.retired.get_mut(i) {
            *r = true;
        }
        if let Some(h) = self.reloads.held.get_mut(i) {
            *h = false;
        }
        let mut out = Vec::new();
        if let Some(p) = self.procs.get_mut(i) {
            p.halt();
            p.stop(now, false, &mut out);
        }
        self.perform(i, out);
    }

    /// Start the new processes of a changed group once its old ones have
    /// all stopped.
    pub(super) fn start_released(&mut self) {
        let mut k = 0;
        while k < self.reloads.waits.len() {
            let ready = self.reloads.waits.get(k).is_some_and(|(old, _)| {
                old.iter()
                    .all(|&i| self.procs.get(i).is_none_or(|p| p.state().is_stopped_class()))
            });
            if !ready {
                k += 1;
                continue;
            }
            let (_, new) = self.reloads.waits.remove(k);
            for i in new {
                if let Some(h) = self.reloads.held.get_mut(i) {
                    *h = false;
                }
                let autostart = self.procs.get(i).is_some_and(|p| p.cfg.autostart);
                if autostart && !self.reloads.retired(i) && self.shutdown.is_none() {
                    let now = self.now();
                    let mut out = Vec::new();
                    if let Some(p) = self.procs.get_mut(i) {
                        p.start(now, &mut out);
                    }
                    self.perform(i, out);
                }
            }
        }
    }
}

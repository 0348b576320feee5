//! Config mode start-up, in supervisord's order (docs/design.md): signals
//! first (so a `docker stop` during start-up is not lost), then the config,
//! the privilege drop, rlimits, the activity log and its start-up messages,
//! and the event loop, which forks the first programs and then writes the
//! pidfile.

use crate::cli::Opts;
use crate::config::{self, Config, LoadOptions};
use crate::log::{Level, Line, Logger};
use crate::signals::SignalFd;
use crate::supervisor::Supervisor;
use crate::{sys, users};
use std::path::{Path, PathBuf};

/// Run config mode; returns rinit's exit status.
pub fn supervise(argv0: &str, opts: &Opts) -> i32 {
    let sig = match SignalFd::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: cannot set up signal handling: {e}");
            return 1;
        }
    };
    let pid = sys::getpid();
    let subreaper = if pid != 1 {
        sys::set_child_subreaper().err()
    } else {
        None
    };
    let (mut cfg, env) = match load_config(argv0, opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    apply_overrides(&mut cfg, opts);
    let mut pending: Vec<(Level, String)> = Vec::new();
    if let Some(user) = cfg.supervisord.user.clone() {
        match drop_privileges(&user) {
            Ok(uid) => pending.push((Level::Info, format!("Set uid to user {uid} succeeded"))),
            Err(msg) => {
                eprintln!("Error: {msg}");
                eprintln!("For help, use {argv0} -h");
                return 2;
            }
        }
    }
    pending.extend(raise_limits(&cfg));
    let mut logger = Logger::stdout(Level::Info);
    configure_activity_log(&mut logger, &cfg.supervisord);
    for w in &cfg.warnings {
        logger.log(Level::Warn, w);
    }
    if !cfg.lint.is_empty() {
        logger.log(
            Level::Warn,
            &format!("config: {} (see 'rinit check')", cfg.lint.join("; ")),
        );
    }
    for i in &cfg.infos {
        logger.log(Level::Info, i);
    }
    for (level, msg) in pending {
        logger.log(level, &msg);
    }
    if let Some(e) = subreaper {
        logger.log(
            Level::Warn,
            &format!("cannot become a child subreaper, orphans will not be reaped: {e}"),
        );
    }
    // The control interface (docs/control.md), with supervisord's start-up
    // lines for each server.
    for srv in &cfg.servers {
        for r in &cfg.rpcinterfaces {
            logger.log(Level::Info, &format!("RPC interface '{}' initialized", r.name));
        }
        if srv.username.is_none() {
            let msg = format!(
                "Server '{}' running without any HTTP authentication checking",
                srv.kind
            );
            logger.log(Level::Crit, &msg);
        }
        if let Some(w) = crate::ctl::server::open_inet_warning(srv) {
            logger.log(Level::Warn, &w);
        }
    }
    let control = match crate::ctl::Server::bind(&cfg.servers) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            eprintln!("For help, use {argv0} -h");
            return 2;
        }
    };
    let facts = crate::supervisor::ControlFacts {
        identifier: cfg.supervisord.identifier.clone(),
        logfile: log_file_path(&cfg.supervisord.logfile).map(|p| p.display().to_string()),
    };
    // The pidfile is written by the loop once the first programs are forked.
    let pidfile = cfg.supervisord.pidfile.clone();
    logger.log(
        Level::Info,
        &Line::new().s("rinit started with pid ").n(pid).done(),
    );
    // Set in place, not by builder calls: each move of the 2 KiB
    // supervisor was a copy in this frame, pages of stack touched at start.
    let mut supervisor = Supervisor::new(cfg, env, logger, sig, (pidfile, pid));
    supervisor.set_control(control, facts);
    supervisor.set_reload(reloader(argv0, opts));
    supervisor.run()
}

/// The config, and the environment it was read with: the one the programs
/// start from (read once: a second read cost as much as the INI parse).
/// Not inlined: its locals would stay on the stack under the event loop.
#[inline(never)]
fn load_config(argv0: &str, opts: &Opts) -> Result<(Config, crate::environ::Environ), i32> {
    // supervisord's two lines, with the place of the error in front of
    // its text (`Error: FILE:LINE: message`).
    let fail = |e: &config::ConfigError| {
        eprintln!("Error: {e}");
        eprintln!("For help, use {argv0} -h");
        2
    };
    let path = match &opts.config {
        Some(c) => PathBuf::from(c),
        None => config::locate(Path::new(argv0)).map_err(|e| fail(&e))?,
    };
    let host = LoadOptions::from_host();
    let cfg = config::load(&path, &host).map_err(|e| fail(&e))?;
    Ok((cfg, host.env))
}

/// SIGHUP's reading of the config: the same file, found the same way, with
/// the same command-line overrides (docs/reload.md).
fn reloader(argv0: &str, opts: &Opts) -> crate::supervisor::Loader {
    let (argv0, opts) = (argv0.to_string(), opts.clone());
    Box::new(move || {
        let path = match &opts.config {
            Some(c) => PathBuf::from(c),
            None => config::locate(Path::new(&argv0)).map_err(|e| e.to_string())?,
        };
        let mut cfg = config::load(&path, &LoadOptions::from_host()).map_err(|e| e.to_string())?;
        apply_overrides(&mut cfg, &opts);
        Ok(cfg)
    })
}

/// supervisord's command-line flags win over the file.
fn apply_overrides(cfg: &mut Config, opts: &Opts) {
    let s = &mut cfg.supervisord;
    if opts.silent {
        s.silent = true;
    }
    if let Some(l) = &opts.loglevel {
        s.loglevel = l.to_ascii_lowercase();
    }
    if let Some(l) = &opts.logfile {
        s.logfile = l.clone();
    }
    if let Some(u) = &opts.user {
        s.user = Some(u.clone());
    }
    if let Some(p) = &opts.pidfile {
        s.pidfile = p.clone();
    }
}

/// The activity log as `[supervisord]` describes it (at start and on
/// reload): level, stdout unless `silent`, the file and its rotation, or
/// syslog. A file that cannot be opened is logged; stdout goes on.
pub fn configure_activity_log(logger: &mut Logger, s: &config::SupervisordConfig) {
    let level = Level::from_config(&s.loglevel).unwrap_or(Level::Info);
    let logfile = log_file_path(&s.logfile);
    if let Err(e) = logger.configure(level, s.silent, logfile, s.logfile_maxbytes, s.logfile_backups) {
        logger.log(Level::Crit, &e);
    }
    if s.logfile == "syslog" {
        logger.use_syslog();
    }
}

/// `syslog` is no file (`Logger::use_syslog`).
fn log_file_path(logfile: &str) -> Option<PathBuf> {
    if logfile.is_empty() || logfile == "syslog" {
        None
    } else {
        Some(PathBuf::from(logfile))
    }
}

/// Become `spec`: the order and the reasons are `sys::set_ids`'s, shared
/// with a program's `user=`; the errno is added here, as supervisord does.
fn drop_privileges(spec: &str) -> Result<u32, String> {
    let user = users::resolve(spec).map_err(|e| e.to_string())?;
    let current = nix::unistd::getuid().as_raw();
    if current == user.uid {
        return Ok(user.uid);
    }
    if current != 0 {
        return Err(sys::NONROOT_REASON.to_string());
    }
    sys::set_ids(&user.groups, user.gid, user.uid)
        .map_err(|(step, e)| format!("{}: {}", step.reason(), std::io::Error::from(e)))?;
    Ok(user.uid)
}

/// Raise RLIMIT_NOFILE / RLIMIT_NPROC to `minfds` / `minprocs` when lower.
fn raise_limits(cfg: &Config) -> Vec<(Level, String)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let mut msgs = Vec::new();
    for (res, want, name) in [
        (Resource::RLIMIT_NOFILE, cfg.supervisord.minfds, "RLIMIT_NOFILE"),
        (Resource::RLIMIT_NPROC, cfg.supervisord.minprocs, "RLIMIT_NPROC"),
    ] {
        let Ok((cur, max)) = getrlimit(res) else {
            continue;
        };
        let want_lim = want as libc::rlim_t;
        if cur == libc::RLIM_INFINITY || cur >= want_lim {
            continue;
        }
        match setrlimit(res, want_lim, max.max(want_lim)) {
            Ok(()) => msgs.push((Level::Info, format!("Increased {name} limit to {want}"))),
            Err(e) => msgs.push((
                Level::Warn,
                format!(
                    "could not raise {name} to {want}: {} (going on with {cur})",
                    std::io::Error::from(e)
                ),
            )),
        }
    }
    msgs
}

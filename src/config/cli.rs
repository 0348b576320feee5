//! `rinit check [-c FILE]` and `rinit dump [-c FILE] …`.
//!
//! Exit status: 0 when the configuration is accepted (warnings allowed),
//! 2 when it is refused or on a usage error — supervisord's status for a bad
//! config, so scripts can treat `check`, `dump` and a real start alike.
//! `dump` prints the JSON document (with its `error` key) even on exit 2.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::dump::{self, Mode};
use super::load::{realize, MainSource};
use super::{locate, paths, ConfigError, LoadOptions};

const EXIT_BAD: i32 = 2;

/// Options shared by both commands.
struct Args {
    config: Option<PathBuf>,
    mode: Mode,
    host_checks: bool,
    hostname: Option<String>,
    help: bool,
}

fn usage_error(cmd: &str, message: &str) -> i32 {
    let _ = writeln!(std::io::stderr(), "rinit {cmd}: {message}");
    let _ = writeln!(
        std::io::stderr(),
        "Try 'rinit {cmd} --help' for more information."
    );
    EXIT_BAD
}

/// Parse `args`; `dump_flags` allows the dump-only options.
fn parse_args(args: &[String], dump_flags: bool) -> Result<Args, String> {
    let mut out = Args {
        config: None,
        mode: Mode::Main,
        host_checks: true,
        hostname: None,
        help: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value_of = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("option '{flag}' needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => out.help = true,
            "-c" | "--configuration" => out.config = Some(PathBuf::from(value_of(arg)?)),
            "--main" if dump_flags => out.mode = Mode::Main,
            "--fragment" if dump_flags => out.mode = Mode::Fragment,
            "--auto" if dump_flags => out.mode = Mode::Auto,
            "--no-host-checks" if dump_flags => out.host_checks = false,
            "--hostname" if dump_flags => out.hostname = Some(value_of(arg)?),
            a if a.starts_with("--configuration=") => {
                out.config = a.strip_prefix("--configuration=").map(PathBuf::from);
            }
            a if a.starts_with("--hostname=") && dump_flags => {
                out.hostname = a.strip_prefix("--hostname=").map(String::from)
            }
            a if a.starts_with("-c") && a.len() > 2 => out.config = a.get(2..).map(PathBuf::from),
            a if a.starts_with('-') => return Err(format!("unknown option '{a}'")),
            a => return Err(format!("unexpected argument '{a}'")),
        }
    }
    Ok(out)
}

fn options(args: &Args) -> LoadOptions {
    let mut opts = LoadOptions::from_host();
    opts.host_checks = args.host_checks;
    if let Some(h) = &args.hostname {
        opts.host_node_name = h.clone();
    }
    opts
}

fn config_path(argv0: &str, args: &Args) -> Result<PathBuf, ConfigError> {
    match &args.config {
        Some(p) => Ok(p.clone()),
        None => locate(Path::new(argv0)),
    }
}

const CHECK_HELP: &str = "usage: rinit check [-c FILE]\n\
Parse and validate a supervisord configuration; print every problem as\n\
FILE:LINE: message. Exit 0 when it is accepted (warnings allowed), 2 otherwise.";

const DUMP_HELP: &str =
    "usage: rinit dump [-c FILE] [--main|--fragment|--auto] [--no-host-checks] [--hostname NAME]\n\
Print the resolved configuration as JSON in the supervisord oracle's schema.\n\
--main (default): FILE is the main config; --fragment: FILE is a conf.d piece;\n\
--auto: main, or fragment when FILE has no [supervisord] section.\n\
Exit 0 when accepted, 2 when refused (the JSON then carries \"error\").";

/// What `check` and `dump` share: their arguments and the config path, or
/// the exit status when there is nothing more to do (usage error, `--help`,
/// no config found).
fn prologue(argv0: &str, args: &[String], cmd: &str, help: &str) -> Result<(Args, PathBuf), i32> {
    let args = parse_args(args, cmd == "dump").map_err(|m| usage_error(cmd, &m))?;
    if args.help {
        return Err(emit(&format!("{help}\n"), 0));
    }
    match config_path(argv0, &args) {
        Ok(p) => Ok((args, p)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            Err(EXIT_BAD)
        }
    }
}

/// `rinit check ARGS…` (ARGS after the word `check`). Returns the exit status.
pub fn check(argv0: &str, args: &[String]) -> i32 {
    let (args, path) = match prologue(argv0, args, "check", CHECK_HELP) {
        Ok(ap) => ap,
        Err(status) => return status,
    };
    let shown = path.display().to_string();
    let outcome = realize(&MainSource::File(path.clone()), &options(&args));
    // Writing to a String cannot fail; the one write to stdout is checked.
    let mut out = String::new();
    for w in &outcome.warnings {
        let _ = writeln!(out, "{shown}: warning: {w}");
    }
    for n in &outcome.notes {
        let _ = writeln!(out, "{n}");
    }
    let status = match outcome.result {
        Ok(config) => {
            for l in &config.lint {
                let _ = writeln!(out, "{l}");
            }
            for f in &config.fcgi_groups {
                let o = f
                    .group
                    .processes
                    .first()
                    .map(|p| p.origin.clone())
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{}:{}: [{}] is not supported by rinit and will not be started",
                    o.file.display(),
                    o.line,
                    f.group.section
                );
            }
            // What rinit does differently from the file's intent, said
            // before it runs (docs/control.md, docs/events.md).
            for w in config
                .servers
                .iter()
                .filter_map(crate::ctl::server::open_inet_warning)
            {
                let _ = writeln!(out, "{shown}: warning: {w}");
            }
            for g in &config.groups {
                let Some(l) = &g.listener else { continue };
                if crate::events::listener::ResultHandler::from_spec(&l.result_handler).is_none() {
                    let o = g.processes.first().map(|p| p.origin.clone()).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "{}:{}: warning: [{}] result_handler {} cannot run in rinit (a Python entry point); \
                         the default handler is used",
                        o.file.display(),
                        o.line,
                        g.section,
                        l.result_handler
                    );
                }
            }
            let processes: usize = config.groups.iter().map(|g| g.processes.len()).sum();
            let _ = writeln!(
                out,
                "{shown}: OK ({} groups, {processes} processes)",
                config.groups.len()
            );
            // `check` exits next: freeing a 100,000-program model piece by
            // piece would only add a tenth of a second to it.
            std::mem::forget(config);
            0
        }
        Err(e) => {
            let file = e.file.as_ref().map_or(shown.clone(), |f| f.display().to_string());
            let _ = match e.line {
                Some(line) => writeln!(out, "{file}:{line}: {}", e.message),
                None => writeln!(out, "{file}: {}", e.message),
            };
            EXIT_BAD
        }
    };
    emit(&out, status)
}

/// Write `text` to stdout and return `status`, or `EXIT_BAD` when stdout is
/// closed or full: a status, never a panic (`println!` aborts on a write
/// error). A closed pipe (`| head`) is the reader's choice and is not
/// reported; any other write error is, on stderr.
pub fn emit(text: &str, status: i32) -> i32 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => status,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_BAD,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "rinit: cannot write to standard output: {e}");
            EXIT_BAD
        }
    }
}

/// `rinit dump ARGS…` (ARGS after the word `dump`). Returns the exit status.
pub fn dump(argv0: &str, args: &[String]) -> i32 {
    let (args, path) = match prologue(argv0, args, "dump", DUMP_HELP) {
        Ok(ap) => ap,
        Err(status) => return status,
    };
    // The oracle always reads the absolute path of the file it is given.
    let path = PathBuf::from(paths::abspath(&path.to_string_lossy()));
    // supervisord's reading, to the letter: a missing log directory refuses.
    let mut opts = options(&args);
    opts.refuse_missing_log_dirs = true;
    let doc = dump::dump(&path, args.mode, &opts);
    let status = if dump::has_error(&doc) { EXIT_BAD } else { 0 };
    match serde_json::to_string_pretty(&doc) {
        Ok(text) => emit(&format!("{text}\n"), status),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "rinit dump: cannot print JSON: {e}");
            EXIT_BAD
        }
    }
}

//! The command line: rinit's own, and supervisord's when the binary is
//! invoked as `supervisord` (so an image's existing `CMD` works unchanged).

use std::path::Path;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options of config mode; the `supervisord`-style flags override the file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Opts {
    pub config: Option<String>,
    pub silent: bool,
    pub loglevel: Option<String>,
    pub logfile: Option<String>,
    pub user: Option<String>,
    pub directory: Option<String>,
    pub pidfile: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum Mode {
    Supervise(Opts),
    Single {
        argv: Vec<String>,
        verbose: bool,
    },
    Check(Vec<String>),
    Dump(Vec<String>),
    /// `rinit ctl …`, or rinit invoked as `supervisorctl` (docs/control.md).
    Ctl(Vec<String>),
    Help(String),
    Version(String),
}

/// The basename of argv[0], once `main` has said it: syslog's tag.
static PROGRAM_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Called once by `main` with argv[0].
pub fn set_program_name(argv0: &str) {
    let _ = PROGRAM_NAME.set(base(argv0).to_string());
}

/// The basename of argv[0], or "rinit" before `main` set it (tests).
pub fn program_name() -> &'static str {
    PROGRAM_NAME.get().map_or("rinit", String::as_str)
}

/// True when invoked as `supervisord` (symlink or copy).
pub fn is_supervisord_alias(argv0: &str) -> bool {
    Path::new(argv0).file_name().and_then(|n| n.to_str()) == Some("supervisord")
}

/// True when invoked as `supervisorctl`: rinit is then that client.
pub fn is_supervisorctl_alias(argv0: &str) -> bool {
    Path::new(argv0).file_name().and_then(|n| n.to_str()) == Some("supervisorctl")
}

/// Parse everything after argv[0]. `Err` is the one-line usage message.
pub fn parse(argv0: &str, args: &[String]) -> Result<Mode, String> {
    if is_supervisorctl_alias(argv0) {
        return Ok(Mode::Ctl(args.to_vec()));
    }
    let alias = is_supervisord_alias(argv0);
    match args.first().map(String::as_str) {
        Some("ctl") if !alias => return Ok(Mode::Ctl(args[1..].to_vec())),
        Some("check") if !alias => return Ok(Mode::Check(args[1..].to_vec())),
        Some("dump") if !alias => return Ok(Mode::Dump(args[1..].to_vec())),
        _ => {}
    }
    let mut opts = Opts::default();
    let mut verbose = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| usage(argv0, &format!("option {flag} requires a value")))
        };
        match flag {
            "--" if !alias => {
                let cmd = args[i + 1..].to_vec();
                if cmd.is_empty() {
                    return Err(usage(argv0, "'--' must be followed by a command"));
                }
                return Ok(Mode::Single { argv: cmd, verbose });
            }
            "-h" | "-?" | "--help" => return Ok(Mode::Help(help(argv0, alias))),
            "--version" => return Ok(Mode::Version(version(alias))),
            "-v" if alias => return Ok(Mode::Version(version(alias))),
            "-v" | "--verbose" => verbose = true,
            "-c" | "--configuration" => opts.config = Some(value(&mut i)?),
            "-n" | "--nodaemon" => {}
            "-s" | "--silent" => opts.silent = true,
            "-e" | "--loglevel" => opts.loglevel = Some(value(&mut i)?),
            "-l" | "--logfile" => opts.logfile = Some(value(&mut i)?),
            "-u" | "--user" => opts.user = Some(value(&mut i)?),
            "-d" | "--directory" => opts.directory = Some(value(&mut i)?),
            "-j" | "--pidfile" => opts.pidfile = Some(value(&mut i)?),
            _ if flag.starts_with('-') => return Err(usage(argv0, &format!("unknown option '{flag}'"))),
            _ => {
                return Err(usage(
                    argv0,
                    &format!("positional arguments are not supported: '{arg}' (did you mean '-- {arg}'?)"),
                ))
            }
        }
        i += 1;
    }
    Ok(Mode::Supervise(opts))
}

fn usage(argv0: &str, msg: &str) -> String {
    format!("{}: {} (try '{} --help')", base(argv0), msg, argv0)
}

fn base(argv0: &str) -> &str {
    Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("rinit")
}

fn version(alias: bool) -> String {
    if alias {
        // Scripts that check supervisord's version keep working.
        "4.2.5".to_string()
    } else {
        format!("rinit {VERSION}")
    }
}

fn help(argv0: &str, alias: bool) -> String {
    let name = base(argv0);
    let modes = if alias {
        String::new()
    } else {
        format!(
            "  {name} -- CMD [ARG...]     run one program, like tini (-v: log its start and exit)\n  \
             {name} check [-c FILE]    validate a config: FILE:LINE: message, exit 2 on errors\n  \
             {name} dump [-c FILE]     print the resolved config as JSON\n  \
             {name} ctl [-c FILE] CMD  supervisorctl's commands (status, start, stop, tail…)\n"
        )
    };
    format!(
        "{name} {VERSION}: a container init (PID 1) that runs supervisord.conf programs\n\n\
         Usage:\n  {name} [options]             supervise the programs of the config\n{modes}\n\
         Options (supervisord's):\n  \
         -c, --configuration FILE   config file (default: supervisord's search order)\n  \
         -n, --nodaemon             accepted; rinit never daemonizes\n  \
         -s, --silent               no activity log on stdout\n  \
         -e, --loglevel LEVEL       critical, error, warn, info, debug, trace, blather\n  \
         -l, --logfile FILE         activity log file\n  \
         -u, --user USER            run as USER (groups, gid, uid)\n  \
         -d, --directory DIR        accepted (only used when daemonizing)\n  \
         -j, --pidfile FILE         pid file\n  \
         -h, --help                 this text\n  \
         --version                  print the version\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn single_mode_takes_everything_after_dashes() {
        assert_eq!(
            parse("rinit", &s(&["-v", "--", "sh", "-c", "exit 3"])),
            Ok(Mode::Single {
                argv: s(&["sh", "-c", "exit 3"]),
                verbose: true
            })
        );
    }

    #[test]
    fn supervisord_command_line_is_accepted_under_its_name() {
        let m = parse(
            "/usr/bin/supervisord",
            &s(&["-n", "-c", "/etc/supervisor/supervisord.conf", "-e", "debug"]),
        );
        let Ok(Mode::Supervise(o)) = m else {
            panic!("{m:?}")
        };
        assert_eq!(o.config.as_deref(), Some("/etc/supervisor/supervisord.conf"));
        assert_eq!(o.loglevel.as_deref(), Some("debug"));
        assert_eq!(
            parse("supervisord", &s(&["-v"])),
            Ok(Mode::Version("4.2.5".into()))
        );
        assert_eq!(
            parse("supervisord", &s(&["--configuration=/x.conf"])).map(|m| match m {
                Mode::Supervise(o) => o.config,
                _ => None,
            }),
            Ok(Some("/x.conf".into()))
        );
    }

    #[test]
    fn usage_errors_are_one_line_with_a_hint() {
        let e = parse("rinit", &s(&["--bogus"])).unwrap_err();
        assert!(!e.contains('\n') && e.contains("--help"), "{e}");
        assert!(parse("rinit", &s(&["-c"])).is_err());
        assert!(parse("rinit", &s(&["--"])).is_err());
        assert!(parse("rinit", &s(&["sleep"])).unwrap_err().contains("-- sleep"));
    }

    #[test]
    fn subcommands() {
        assert_eq!(
            parse("rinit", &s(&["check", "-c", "x"])),
            Ok(Mode::Check(s(&["-c", "x"])))
        );
        assert_eq!(parse("rinit", &s(&["dump"])), Ok(Mode::Dump(vec![])));
    }
}

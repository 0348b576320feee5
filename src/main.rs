//! rinit: a container init (PID 1) that reads supervisord.conf.
//!
//! `main` only parses the command line and hands over to one mode:
//! config mode (`supervisor`), single-program mode (`single`), or the
//! config tools (`rinit check`, `rinit dump`). The modules are in `lib.rs`.

use rinit::cli::{self, Mode};
use rinit::{config, single, startup};

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv0 = argv.first().cloned().unwrap_or_else(|| "rinit".to_string());
    let rest = argv.get(1..).unwrap_or(&[]);
    let code = match cli::parse(&argv0, rest) {
        Ok(Mode::Check(args)) => config::cli::check(&argv0, &args),
        Ok(Mode::Dump(args)) => config::cli::dump(&argv0, &args),
        Ok(Mode::Ctl(args)) => rinit::ctl::client::main(&argv0, &args),
        Ok(Mode::Single { argv, verbose }) => single::run(&argv, verbose),
        Ok(Mode::Supervise(opts)) => startup::supervise(&argv0, &opts),
        Ok(Mode::Help(text)) => {
            print!("{text}");
            0
        }
        Ok(Mode::Version(text)) => {
            println!("{text}");
            0
        }
        Err(usage) => {
            eprintln!("{usage}");
            2
        }
    };
    std::process::exit(code);
}

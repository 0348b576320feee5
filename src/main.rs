//! rinit: a container init (PID 1) that reads supervisord.conf.
mod config;
mod spawn;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv0 = argv.first().cloned().unwrap_or_else(|| "rinit".to_string());
    let rest = argv.get(1..).unwrap_or(&[]);
    let code = match rest.first().map(String::as_str) {
        Some("check") => config::cli::check(&argv0, rest.get(1..).unwrap_or(&[])),
        Some("dump") => config::cli::dump(&argv0, rest.get(1..).unwrap_or(&[])),
        _ => 0,
    };
    std::process::exit(code);
}

//! rinit: a container init (PID 1) that reads supervisord.conf.
mod config;
mod spawn;

fn main() {
    std::process::exit(0);
}

//! The whole config path: bytes as a supervisord.conf (with two include
//! files beside it) → lexer → includes → expansion → typed values →
//! validation → the JSON dump. Any panic, abort or timeout is a bug.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rinit::config::dump::{self, Mode};
use rinit::config::LoadOptions;

/// A private directory with the main file and two files an `[include]`
/// can name (`a.conf`, `b.ini`), so includes are exercised without the
/// fuzzer reaching the rest of the file system.
fn sandbox() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rinit-fuzz-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("a.conf"), "[program:inc]\ncommand=/bin/true %(here)s\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n");
        let _ = std::fs::write(dir.join("b.ini"), "[group:g]\nprograms=inc\n[eventlistener:l]\ncommand=x\nevents=TICK_5\n");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    // Absolute or parent paths in an input that has includes would let the
    // fuzzer glob and read the host's files (/proc, /dev): not the loader's
    // logic, only the machine's. Relative includes stay in the sandbox.
    if data.windows(8).any(|w| w == b"[include") && (data.contains(&b'/') || data.contains(&b'~')) {
        return;
    }
    let dir = sandbox();
    let main = dir.join("supervisord.conf");
    if std::fs::write(&main, data).is_err() {
        return;
    }
    let opts = LoadOptions {
        env: rinit::environ::Environ::from_pairs([("HOME", "home"), ("X", "1")]),
        host_node_name: "fuzzhost".into(),
        host_checks: false,
        refuse_missing_log_dirs: false,
    };
    for mode in [Mode::Main, Mode::Auto] {
        let doc = dump::dump(&main, mode, &opts);
        let _ = serde_json::to_string_pretty(&doc);
    }
    let _ = rinit::config::load(&main, &opts);
});

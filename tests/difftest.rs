//! Differential scenario tests (issue #4).
//!
//! `tests/difftest/difftest.py` runs every scenario of `tests/difftest/scenarios/`
//! with the init as PID 1 of a fresh PID namespace and compares its normalized
//! transcript with the expected one: once under this crate's `rinit`, and once
//! under supervisord 4.2.5 when it is installed (its transcripts are the
//! reference, so they must keep passing too). See tests/difftest/README.md.
//!
//! Needs root, `python3` and `unshare` (util-linux): a missing tool is a test
//! failure, never a silent skip.

use std::path::{Path, PathBuf};
use std::process::Command;

fn on_path(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

/// Run the script with `args`; print everything it said; return whether it passed.
fn difftest(args: &[&str]) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/difftest/difftest.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    println!("$ python3 {} {}", script.display(), args.join(" "));
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    println!("=> {} ({})", last, out.status);
    out.status.success()
}

#[test]
fn differential_scenarios() {
    assert!(
        on_path("python3").is_some(),
        "python3 is required for tests/difftest (not found on PATH)"
    );
    assert!(
        on_path("unshare").is_some(),
        "unshare (util-linux) is required for tests/difftest (not found on PATH)"
    );

    let rinit_ok = difftest(&["--init", "rinit", "--rinit", env!("CARGO_BIN_EXE_rinit")]);
    let supervisord_ok = if on_path("supervisord").is_some() {
        difftest(&["--init", "supervisord"])
    } else {
        println!("supervisord is not installed: only rinit was checked");
        true
    };
    assert!(
        rinit_ok,
        "difftest scenarios failed under rinit (see the output above)"
    );
    assert!(
        supervisord_ok,
        "difftest scenarios failed under supervisord: a reference transcript is unstable"
    );
}

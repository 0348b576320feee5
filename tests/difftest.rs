//! Differential scenario tests (issue #4).
//!
//! `tests/difftest/difftest.py` runs every scenario of `tests/difftest/scenarios/`
//! with the init as PID 1 of a fresh PID namespace and compares its normalized
//! transcript with the expected one: once under this crate's `rinit`, and once
//! under supervisord 4.2.5 when it is installed (its transcripts are the
//! reference, so they must keep passing too). See tests/difftest/README.md.
//!
//! Needs PID namespaces (root, `unshare`) and `python3`; the supervisord half
//! needs `supervisord` (Debian package `supervisor`). Without them the test
//! prints one `SKIPPED` line per missing half and passes, except under
//! `RINIT_REQUIRE_ALL=1` (CI), where a skip is a failure.

mod common;

use common::{require, skip_unless, Need};
use std::path::Path;
use std::process::Command;

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
    require!(Need::PidNamespaces, Need::Cmd("python3"));
    let rinit_ok = difftest(&["--init", "rinit", "--rinit", env!("CARGO_BIN_EXE_rinit")]);
    // The reference transcripts must keep passing under supervisord itself.
    let supervisord_ok = skip_unless(file!(), "the supervisord half", &[Need::Cmd("supervisord")])
        || difftest(&["--init", "supervisord"]);
    assert!(
        rinit_ok,
        "difftest scenarios failed under rinit (see the output above)"
    );
    assert!(
        supervisord_ok,
        "difftest scenarios failed under supervisord: a reference transcript is unstable"
    );
}

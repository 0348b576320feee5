//! Smoke test of the benchmark (bench/run.py): one repetition of every metric
//! with small numbers, against the rinit binary cargo just built, so the
//! benchmark keeps working.  It asserts that the run completes and writes its
//! results; it asserts no timing (CI machines are noisy).
//!
//! Needs PID namespaces (root, unshare: the benchmark runs each init as PID 1
//! of a new PID namespace), python3, a C compiler, valgrind and the peers
//! (tini, dumb-init, catatonit, supervisord): without them it prints one
//! `SKIPPED` line and passes, except under `RINIT_REQUIRE_ALL=1` (CI).

mod common;

use common::{require, Need};
use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rinit-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
}

#[test]
fn bench_quick_runs_and_writes_results() {
    require!(
        Need::PidNamespaces,
        Need::Cmd("python3"),
        Need::Cmd("cc"),
        Need::Cmd("valgrind"),
        Need::Cmd("tini"),
        Need::Cmd("dumb-init"),
        Need::Cmd("catatonit"),
        Need::Cmd("supervisord"),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = out_dir();
    let result = Command::new("python3")
        .arg(root.join("bench/run.py"))
        .arg("--quick")
        .arg("--rinit")
        .arg(env!("CARGO_BIN_EXE_rinit"))
        .arg("--out")
        .arg(&out)
        .current_dir(root)
        .output()
        .expect("run python3 bench/run.py (is python3 installed?)");
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    println!("{stdout}");
    assert!(
        result.status.success(),
        "bench/run.py --quick failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        result.status
    );
    let json = std::fs::read_to_string(out.join("results.json")).expect("results.json written");
    assert!(
        json.contains("\"metrics\""),
        "results.json has no metrics:\n{json}"
    );
    assert!(out.join("results.md").exists(), "results.md written");
    let _ = std::fs::remove_dir_all(&out);
}

/// The musl build links with src/hot-text.ld (src/build.rs): the code of
/// start-up and the idle loop sits in one section at the start of the text,
/// the benchmark's idle RSS depends on it (docs/design.md, "Memory"). A
/// section far smaller than that code means the script's function names
/// have drifted from the code: run bench/hot_text.py again.
#[test]
fn the_musl_binary_keeps_its_start_up_code_together() {
    require!(Need::Cmd("readelf"));
    let bin = env!("CARGO_BIN_EXE_rinit");
    if !bin.contains("-musl/") {
        println!("not a musl build ({bin}): linked without src/hot-text.ld");
        return;
    }
    let out = Command::new("readelf")
        .args(["-SW", bin])
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let size = text
        .lines()
        .find(|l| l.contains(".text.rinit_hot"))
        .and_then(|l| l.split_whitespace().rev().nth(5))
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or_else(|| panic!("no .text.rinit_hot section in {bin}:\n{text}"));
    assert!(
        size >= 128 * 1024,
        ".text.rinit_hot is {size} bytes: regenerate src/hot-text.ld"
    );
}

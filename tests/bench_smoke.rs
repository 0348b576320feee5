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

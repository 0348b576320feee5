//! End-to-end test of the LAMP example (issue #5): examples/lamp under rinit as PID 1.
//!
//! Runs `tests/lamp/run.sh --docker <rinit>`: Apache + PHP + MariaDB (installed from Debian's
//! packages if missing) under rinit as PID 1 of its own PID + mount + network namespace
//! (loopback only), then the same through Dockerfile.lamp where a Docker engine answers
//! (otherwise that part prints "SKIPPED: no docker engine"). The script's output, with its
//! PASS/FAIL summary, goes straight to this test's stdout/stderr.
//!
//! This test never passes without having run the stack: not root, no bash, a package that
//! could not be installed, or any failed check make it fail.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn lamp_stack_under_rinit() {
    let rinit = env!("CARGO_BIN_EXE_rinit");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lamp/run.sh");
    assert!(
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() } == 0,
        "the LAMP end-to-end test must run as root (namespaces, mounts, apt-get); it was not run"
    );
    let started = Instant::now();
    // `timeout` bounds the whole run (package install and docker build included).
    let status = Command::new("timeout")
        .args(["-k", "10", "1500", "bash"])
        .arg(&script)
        .arg("--docker")
        .arg(rinit)
        .status()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    eprintln!("lamp e2e took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        status.success(),
        "LAMP end-to-end test failed ({status}); see the PASS/FAIL summary above"
    );
}

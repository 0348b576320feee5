//! Differential test: `rinit dump` against supervisord's own reading of the
//! 87 real configs in `tests/corpus/supervisord` (`*.expected.json`, made by
//! the oracle in `tests/corpus/oracle`; its README says how to regenerate).
//!
//! Every key of the oracle schema is compared. Keys deliberately not compared
//! are listed in `NOT_COMPARED` with the reason (currently none).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Keys (by JSON path suffix) rinit does not compare, and why.
const NOT_COMPARED: &[(&str, &str)] = &[
    // `crash` only exists when supervisord dies with a Python traceback;
    // rinit reports a clean error instead, and no corpus file crashes.
    (
        "crash",
        "Python tracebacks have no rinit equivalent; absent from the corpus",
    ),
];

fn corpus_dir() -> PathBuf {
    // Vendored in the repository, so a plain clone runs this test.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    assert!(
        dir.join("supervisord").is_dir() && dir.join("oracle/env.txt").is_file(),
        "corpus missing: expected {} (part of the repository)",
        dir.display()
    );
    dir
}

/// `oracle/env.txt`: the fixed environment the oracle parsed under.
fn oracle_env(corpus: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(corpus.join("oracle/env.txt")).expect("read env.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn strip_not_compared(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (key, _) in NOT_COMPARED {
                m.remove(*key);
            }
            m.values_mut().for_each(strip_not_compared);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_not_compared),
        _ => {}
    }
}

/// The first few differing JSON paths, for a readable failure.
fn diff(got: &Value, want: &Value, path: &str, out: &mut Vec<String>) {
    if out.len() >= 5 {
        return;
    }
    match (got, want) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, &format!("{path}.{k}"), out),
                    (x, y) => out.push(format!("{path}.{k}: rinit {x:?} vs supervisord {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: rinit {a} vs supervisord {b}")),
        _ => {}
    }
}

#[test]
fn corpus_agrees_with_supervisord() {
    let corpus = corpus_dir();
    let confdir = corpus.join("supervisord");
    let env = oracle_env(&corpus);
    let mut confs: Vec<PathBuf> = std::fs::read_dir(&confdir)
        .expect("list corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.ends_with(".conf")
                && name
                    .get(..4)
                    .is_some_and(|s| s.chars().take(3).all(|c| c.is_ascii_digit()) && s.ends_with('-'))
        })
        .collect();
    confs.sort();
    assert_eq!(
        confs.len(),
        87,
        "expected 87 corpus files in {}",
        confdir.display()
    );
    let here = std::fs::canonicalize(&confdir).expect("canonical corpus dir");
    let here = here.to_string_lossy().into_owned();

    let mut failures = Vec::new();
    for conf in &confs {
        let name = conf
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out = Command::new(env!("CARGO_BIN_EXE_rinit"))
            .args([
                "dump",
                "--auto",
                "--no-host-checks",
                "--hostname",
                "oracle-host",
                "-c",
            ])
            .arg(here.clone() + "/" + &name)
            .env_clear()
            .envs(&env)
            .current_dir("/")
            .output()
            .expect("run rinit");
        assert!(
            out.status.code().is_some(),
            "{name}: rinit died of a signal: {:?}",
            out.status
        );
        let text = String::from_utf8_lossy(&out.stdout).replace(&here, "@HERE@");
        let mut got: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{name}: no JSON ({e}); stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        let expected_path = confdir.join(name.replace(".conf", ".expected.json"));
        let mut want: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("read expected"))
                .expect("expected JSON parses");
        let refused = want.get("error").is_some();
        assert_eq!(
            out.status.code(),
            Some(if refused { 2 } else { 0 }),
            "{name}: exit status"
        );
        strip_not_compared(&mut got);
        strip_not_compared(&mut want);
        if got != want {
            let mut d = Vec::new();
            diff(&got, &want, "", &mut d);
            failures.push(format!("{name}:\n    {}", d.join("\n    ")));
        }
    }
    let agree = confs.len() - failures.len();
    eprintln!("corpus: {agree}/{} agree with supervisord", confs.len());
    assert!(
        failures.is_empty(),
        "{agree}/{} agree; differences:\n{}",
        confs.len(),
        failures.join("\n")
    );
}

//! `%(name)s` expansion alone (Python's `str % dict`): the first line of
//! the input is a number for `process_num` and the text of `program_name`,
//! the rest is the format string. Any panic, abort, timeout or allocation
//! past libFuzzer's `-rss_limit_mb` is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::config::expand::{expand, Name, Names};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, format) = text.split_once('\n').unwrap_or(("", text));
    let mut names = Names::new();
    names.insert(
        "process_num".into(),
        Name::Int(first.trim().parse().unwrap_or(-7)),
    );
    names.insert("numprocs".into(), Name::Int(first.len() as i64));
    names.insert("program_name".into(), Name::Str(first.into()));
    names.insert("here".into(), Name::Str("/etc/x y".into()));
    if let Ok(out) = expand(format, &names, "program:x.command") {
        // The expansion limit: padding adds at most 1 MiB to the
        // substituted values (each at most the input's length).
        assert!(out.len() <= format.len() * (first.len() + 16) + (1 << 20) * 4 + 64);
    }
});

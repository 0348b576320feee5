//! `rinit check [-c FILE]` and `rinit dump [-c FILE]`.

/// `rinit check ARGS…` (ARGS after the word `check`). Returns the exit status.
pub fn check(argv0: &str, args: &[String]) -> i32 {
    let _ = (argv0, args);
    2
}

/// `rinit dump ARGS…` (ARGS after the word `dump`). Returns the exit status.
pub fn dump(argv0: &str, args: &[String]) -> i32 {
    let _ = (argv0, args);
    2
}

//! Build script (Cargo.toml `build`): links the binary with src/hot-text.ld,
//! which puts the code rinit runs from `exec` to its idle loop first in the
//! text. The kernel maps a binary's pages 64 KiB around each fault, so
//! grouped code means fewer faults at start-up and a smaller resident set
//! (docs/design.md, "Memory"). bench/hot_text.py writes the script.
//!
//! Only for the musl target, whose link (GNU ld through `cc`) the script is
//! written for; the static-glibc fallback links as before.

fn main() {
    println!("cargo:rerun-if-changed=src/hot-text.ld");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_ENV") == "musl" && var("CARGO_CFG_TARGET_ARCH") == "x86_64" {
        let script = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("src/hot-text.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}

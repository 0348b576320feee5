#!/usr/bin/env bash
# The smallest rinit: the same code with the standard library rebuilt so that
# a panic aborts at once (no message). That drops the backtrace printer that
# stable Rust links into every binary through std's panic hook — gimli,
# addr2line, miniz, the demangler and libunwind, about 220 KB — and builds a
# non-PIE static executable (no start-up relocations, no randomized base).
#
# It needs the rust-src component and unstable cargo flags, enabled on the
# stable toolchain with RUSTC_BOOTSTRAP=1, so it is an option, not the default
# build: `cargo build --release` stays the supported one. Prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup component add rust-src >&2
out=target/min
RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$out" \
RUSTFLAGS="-C relocation-model=static -Z unstable-options -C panic=immediate-abort" \
  cargo build --release -Z build-std=std,panic_abort --target x86_64-unknown-linux-musl >&2
echo "$out/x86_64-unknown-linux-musl/release/rinit"

#!/usr/bin/env bash
# The soak test, one command: tests/soak/run.sh [SECONDS] (default 600).
# Needs root and unshare, like every PID-1 test. See tests/soak/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
RINIT_SOAK_SECS="${1:-600}" exec cargo test --release --test soak -- --nocapture

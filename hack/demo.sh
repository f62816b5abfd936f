#!/usr/bin/env bash
# `make demo`: builds what is missing and runs examples/demo.rs (control plane, emulator, operator,
# samples). Ctrl-C stops it and every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin monday-operator --example demo
exec target/debug/examples/demo

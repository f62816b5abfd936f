#!/usr/bin/env bash
# `make demo`: the main job on an embedded default. Filled in as the engine and controller land.
set -euo pipefail
echo "monday-operator demo: not yet — the sync engine and controller are still being built (see README)."

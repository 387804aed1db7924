#!/usr/bin/env bash
# Set up (once) and run the main job: the default scenario, its trace, summary, report and
# video, written to runs/default/ (or the folder given as the first argument).
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${1:-runs/default}"
gaitsim run default --out "$OUT"

#!/usr/bin/env bash
# Set up (once) and run the main job, gaitsim demo: the moderate hemiparetic patient on the
# obstacle session without and with the ankle assist; both runs (trace, summary), the
# side-by-side video compare.mp4 and report.html, written to runs/demo/ (or the folder given
# as the first argument).
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${1:-runs/demo}"
gaitsim demo --out "$OUT"

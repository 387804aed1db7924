#!/usr/bin/env bash
# Set up (once) and run the main job: the default scenario, its trace, summary and video,
# written to runs/default/ (or the folder given as the first argument).
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${1:-runs/default}"
gaitsim run default --out "$OUT"
gaitsim render "$OUT/trace.npz" --out "$OUT/video.mp4"
echo "main job done: $OUT/{trace.npz,summary.json,video.mp4}"

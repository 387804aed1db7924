#!/usr/bin/env bash
# Set up (once) and run the test suite. Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec python -m pytest "$@"

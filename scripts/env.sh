# Sourced by main.sh and test.sh: make .venv (Python >= 3.11) with gaitsim and its test tools,
# and the Debian libraries headless rendering needs. Idempotent; re-installs when pyproject.toml
# changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "gaitsim needs Python >= 3.11 (found $("$PY" --version 2>&1)); set PYTHON=..." >&2; exit 1; }

# Headless MuJoCo rendering through EGL on the CPU (Mesa). Only installed when missing.
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Mesa EGL for headless rendering (libegl1 libegl-mesa0 libgl1-mesa-dri)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      libegl1 libegl-mesa0 libgl1-mesa-dri >&2
  else
    echo "note: videos need Mesa EGL: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri" >&2
  fi
fi

# The report test opens the HTML report in a real headless Chromium (through chromedriver).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Chromium for the report test (chromium chromium-driver)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      chromium chromium-driver >&2
  else
    echo "note: the report test needs a headless Chromium: apt-get install chromium chromium-driver" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
STAMP=.venv/.gaitsim-installed
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >&2
  # torch's CPU build before stable-baselines3 (the RL tests): a bare torch requirement
  # would pull a CUDA build of several GB
  .venv/bin/python -m pip install -q "torch==2.13.0" >&2
  .venv/bin/python -m pip install -q -e ".[test]" >&2
  echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export MUJOCO_GL="${MUJOCO_GL:-egl}"

#!/usr/bin/env bash
# Creates .venv from the committed lock that fits this host. Idempotent: when the
# venv already matches the lock, it returns in well under a second.
#
#   glibc >= 2.39 -> Python 3.11, 3.12 or 3.13 + requirements/stack-modern-3.X.lock (tfx 1.21)
#   glibc <  2.39 -> Python 3.10 + requirements/stack-compatible.lock               (tfx 1.16)
#
# The interpreter: PYTHON=/path/to/python3.X if set; else `python3` on PATH when it is a
# supported version; else the newest supported python3.X on PATH, in pyenv or in /usr/bin.
# The package index: uv's own UV_* settings if set, else pip's (see scripts/setup_lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup_lib.sh

fail() { echo "setup: $*" >&2; exit 1; }

glibc_version() {
  getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}' \
    || ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$'
}

glibc=$(glibc_version) || true
[ -n "$glibc" ] || fail "cannot tell this host's glibc version (no getconf or ldd);" \
  "the TFX wheels need glibc on Linux."
read -r stack versions <<<"$(stack_for_glibc "$glibc")"
supported="${versions// /, }"

python=$(find_python $versions)
[ -n "$python" ] || fail "no Python $supported found (looked at python3 and python3.X on PATH," \
  "in pyenv and in /usr/bin); install one (see docs/install.md) or set" \
  "PYTHON=/path/to/python3.X, because glibc $glibc selects the $stack stack."
python_version=$(minor_version "$python") \
  || fail "$python does not run, or lacks the venv module."
[[ " $versions " == *" $python_version "* ]] \
  || fail "$python is Python $python_version;" \
    "the $stack stack (glibc $glibc) needs Python $supported."
if [ "$stack" = modern ]; then lock="requirements/stack-modern-$python_version.lock"
else lock="requirements/stack-compatible.lock"; fi

stamp=".venv/.setup-stamp"
lock_hash=$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)
want="$stack $lock_hash $("$python" -c 'import sys; print(sys.version)' | head -1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; then
  exit 0
fi

uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  if [ ! -x .tools/uv/bin/uv ]; then
    "$python" -c 'import ensurepip' 2>/dev/null \
      || fail "$python cannot create a venv with pip, which installing uv needs" \
        "(on Debian and Ubuntu: apt-get install python3-venv); or put uv on PATH" \
        "(https://docs.astral.sh/uv/)."
    echo "setup: installing uv into .tools/uv"
    rm -rf .tools/uv
    "$python" -m venv .tools/uv && .tools/uv/bin/pip install --quiet uv \
      || fail "could not install uv with pip;" \
        "install uv yourself (https://docs.astral.sh/uv/) and rerun."
  fi
  uv=.tools/uv/bin/uv
fi

# pip's view of its own settings, from whichever pip there is.
pip_config() {
  local pip
  if "$python" -m pip --version >/dev/null 2>&1; then
    "$python" -m pip config list 2>/dev/null || true; return
  fi
  for pip in "$(command -v pip3 || true)" .tools/uv/bin/pip; do
    if [ -x "$pip" ]; then "$pip" config list 2>/dev/null || true; return; fi
  done
}
index_env=$(pip_config | uv_env_from_pip)
if [ -n "$index_env" ]; then
  echo "setup: package index from pip's settings (PIP_* variables or pip.conf):" $index_env
  while IFS= read -r setting; do export "${setting?}"; done <<<"$index_env"
elif uv_index_configured; then
  echo "setup: package index from uv's UV_* variables"
else
  echo "setup: package index: PyPI" \
    "(set PIP_INDEX_URL, pip's index-url or UV_DEFAULT_INDEX to change)"
fi

echo "setup: $stack stack (glibc $glibc): Python $python_version from $python, $lock"
# pyfarmhash (a TFX dependency) publishes no wheels: uv builds it with the host's compiler.
command -v g++ >/dev/null || command -v c++ >/dev/null \
  || fail "no C++ compiler, which building pyfarmhash from $lock needs" \
    "(on Debian and Ubuntu: apt-get install g++)."
"$python" -c 'import os, sysconfig; assert os.path.isfile(sysconfig.get_path("include") + "/Python.h")' \
  2>/dev/null || fail "$python has no C headers (Python.h), which building pyfarmhash needs" \
    "(on Debian and Ubuntu: apt-get install python3-dev, or python$python_version-dev)."
if [ -x .venv/bin/python ] && [ "$(minor_version .venv/bin/python)" != "$python_version" ]; then
  rm -rf .venv
fi
[ -x .venv/bin/python ] || "$uv" venv --quiet --python "$python" .venv
"$uv" pip sync --quiet --python .venv/bin/python "$lock" \
  || fail "installing $lock into .venv failed (see uv's message above)."
echo "$want" > "$stamp"
echo "setup: .venv ready"

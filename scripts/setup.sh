#!/usr/bin/env bash
# Creates .venv from the committed lock that fits this host. Idempotent: when the
# venv already matches the lock, it returns in well under a second.
#
#   glibc >= 2.39 -> Python 3.11 + requirements/stack-modern.lock     (tfx 1.21)
#   glibc <  2.39 -> Python 3.10 + requirements/stack-compatible.lock (tfx 1.16)
#
# Override the interpreter with PYTHON=/path/to/python3.X.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: $*" >&2; exit 1; }

glibc_version() {
  getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}' \
    || ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$'
}

glibc=$(glibc_version) || true
[ -n "$glibc" ] || fail "cannot tell this host's glibc version (no getconf or ldd); the TFX wheels need glibc on Linux."
if [ "$(printf '%s\n2.39\n' "$glibc" | sort -V | head -1)" = "2.39" ]; then
  stack=modern; python_version=3.11
else
  stack=compatible; python_version=3.10
fi
lock="requirements/stack-$stack.lock"
version_tuple="${python_version/./, }"

find_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  local candidate
  for candidate in "$(command -v "python$python_version" || true)" \
                   "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/"$python_version".*/bin/python"$python_version" \
                   /usr/bin/python"$python_version" /usr/local/bin/python"$python_version"; do
    # pyenv's shims exist for every version pyenv knows; only a working interpreter counts.
    if [ -x "$candidate" ] && "$candidate" -c "import sys; assert sys.version_info[:2] == ($version_tuple)" 2>/dev/null \
        && "$candidate" -c "import venv" 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
}

python=$(find_python)
[ -n "$python" ] || fail "Python $python_version not found (looked on PATH, in pyenv and in /usr/bin); install it or set PYTHON=/path/to/python$python_version, because glibc $glibc selects the $stack stack."
"$python" -c "import sys; assert sys.version_info[:2] == ($version_tuple)" 2>/dev/null \
  || fail "$python is not Python $python_version, which the $stack stack (glibc $glibc) needs."

stamp=".venv/.setup-stamp"
want="$stack $(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version)' | head -1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; then
  exit 0
fi

uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  if [ ! -x .tools/uv/bin/uv ]; then
    echo "setup: installing uv into .tools/uv"
    "$python" -m venv .tools/uv && .tools/uv/bin/pip install --quiet uv \
      || fail "could not install uv with pip from PyPI; install uv yourself (https://docs.astral.sh/uv/) and rerun."
  fi
  uv=.tools/uv/bin/uv
fi

echo "setup: $stack stack (glibc $glibc): Python $python_version from $python, $lock"
if [ -x .venv/bin/python ] && ! .venv/bin/python -c "import sys; assert sys.version_info[:2] == ($version_tuple)" 2>/dev/null; then
  rm -rf .venv
fi
[ -x .venv/bin/python ] || "$uv" venv --quiet --python "$python" .venv
"$uv" pip sync --quiet --python .venv/bin/python "$lock" \
  || fail "installing $lock into .venv failed (see uv's message above)."
"$uv" pip install --quiet --python .venv/bin/python --no-deps -e . \
  || fail "installing the project itself into .venv failed (see uv's message above)."
echo "$want" > "$stamp"
echo "setup: .venv ready"

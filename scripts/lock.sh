#!/usr/bin/env bash
# Regenerates both locks from requirements/*.in (`make lock`). Each lock is pinned
# for its target platform, not for this host, so both can be made on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=$(command -v uv || echo .tools/uv/bin/uv)
"$uv" pip compile requirements/stack-modern.in --python-version 3.11 \
  --python-platform x86_64-manylinux_2_39 -o requirements/stack-modern.lock
"$uv" pip compile requirements/stack-compatible.in --python-version 3.10 \
  --python-platform x86_64-manylinux_2_28 -o requirements/stack-compatible.lock
"$uv" pip compile requirements/stack-modern-gpu.in --python-version 3.11 \
  --python-platform x86_64-manylinux_2_39 -o requirements/stack-modern-gpu.lock

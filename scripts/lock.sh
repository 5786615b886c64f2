#!/usr/bin/env bash
# Regenerates the locks from requirements/*.in (`make lock`). Each lock is pinned for its
# target platform, not for this host, so all can be made on any machine.
#
# The modern stack has one lock per Python version. The 3.12 and 3.13 locks start from the
# 3.11 lock's pins (uv keeps an output file's pins where it can), so every version installs
# the same versions except where a package's own requirements differ by Python version.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=$(command -v uv || echo .tools/uv/bin/uv)
modern() {  # modern IN PYTHON_VERSION OUT
  "$uv" pip compile "$1" --python-version "$2" --python-platform x86_64-manylinux_2_39 -o "$3"
}
modern requirements/stack-modern.in 3.11 requirements/stack-modern-3.11.lock
for version in 3.12 3.13; do
  cp requirements/stack-modern-3.11.lock "requirements/stack-modern-$version.lock"
  modern requirements/stack-modern.in "$version" "requirements/stack-modern-$version.lock"
done
# The GPU image runs Python 3.13 (kubeflow/Dockerfile.cpu).
modern requirements/stack-modern-gpu.in 3.13 requirements/stack-modern-gpu.lock
"$uv" pip compile requirements/stack-compatible.in --python-version 3.10 \
  --python-platform x86_64-manylinux_2_28 -o requirements/stack-compatible.lock

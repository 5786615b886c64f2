#!/usr/bin/env bash
# Installs and runs the project as a new user would on Debian 13 (glibc 2.41, the modern
# stack), on a machine without Docker: in a Debian 13 root file system (debootstrap), with
# only the packages a user installs, a fresh clone of this repository's HEAD, then
# `make run` and `make test`. Needs root. Prints each step's time.
#
#   sudo scripts/check_in_rootfs.sh                  # with Debian 13's own python3 (3.13)
#   sudo scripts/check_in_rootfs.sh /path/python3.X  # with another interpreter, mounted
#                                                    # read-only from its prefix
#
# Settings (base tree, mirror, CA certificates, package index): see scripts/rootfs.sh.
# MAKE_TARGETS overrides which targets run (default "setup run test").
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/rootfs.sh"

python=${1:-}
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] \
  || echo "check: uncommitted changes are not part of the clone;" \
          "checking HEAD $(git -C "$repo" rev-parse --short HEAD)"

rootfs_enter
# What a user installs on a minimal Debian 13 to clone and run the project: the distribution's
# Python with venv and headers, make, git, a C++ compiler (pyfarmhash is built from source)
# and the CA certificates for downloading packages.
packages="python3 python3-venv python3-dev make git g++ ca-certificates"
echo "==> apt-get install $packages"
rootfs_apt $packages
if [ -n "$python" ]; then
  prefix=$(dirname "$(dirname "$(realpath "$python")")")
  rootfs_bind "$prefix"
  rootfs_env+=("PYTHON=$python")
fi
refs=(HEAD)
if branch=$(git -C "$repo" symbolic-ref -q HEAD); then refs+=("$branch"); fi
git -C "$repo" bundle create -q "$rootfs/root/gan-pipeline.bundle" "${refs[@]}"
rootfs_run "
  grep PRETTY_NAME /etc/os-release; ldd --version | sed -n 1p
  echo \"python3 on PATH: \$(python3 --version)\${PYTHON:+; PYTHON=\$PYTHON}\"
  git -c init.defaultBranch=main clone -q /root/gan-pipeline.bundle /root/gan-pipeline && cd /root/gan-pipeline
  for target in ${MAKE_TARGETS:-setup run test}; do
    echo \"==> make \$target\"
    start=\$(date +%s)
    make \$target
    echo \"==> make \$target: \$(( \$(date +%s) - start )) s\"
  done
"

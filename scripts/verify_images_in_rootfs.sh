#!/usr/bin/env bash
# Verifies the images' install steps without Docker: replays kubeflow/Dockerfile.cpu (and,
# with --gpu, kubeflow/Dockerfile.gpu) in a Debian 13 root file system that stands in for
# the base image debian:trixie-slim, then checks the result as KFP would use it: the TFX
# container entrypoint starts, the project imports from any folder, and the Kubeflow tests
# pass on the image's stack. Needs root.
#
#   sudo scripts/verify_images_in_rootfs.sh [--gpu]
#
# Settings (base tree, mirror, CA certificates, package index): see scripts/rootfs.sh.
set -euo pipefail
gpu=false
if [ "${1:-}" = "--gpu" ]; then gpu=true; fi
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/rootfs.sh"
host_python=$(python3 -c 'import sys; print(sys.executable)')

rootfs_enter
# The build runs here, with only the base image's environment; RUN steps run chrooted.
replay() {
  (cd "$repo" && env -i "${rootfs_env[@]}" "$host_python" scripts/replay_dockerfile.py \
     --root "$rootfs" "$@")
}
replay kubeflow/Dockerfile.cpu
if $gpu; then replay kubeflow/Dockerfile.gpu --from kubeflow/Dockerfile.cpu; fi

# The tests run from a copy of the build context: the files git tracks (and new ones it does
# not ignore).
context=/opt/gan-image-context
mkdir -p "$rootfs$context"
(cd "$repo" && git ls-files --cached --others --exclude-standard -z \
   | xargs -0 cp --parents -t "$rootfs$context")

# What a container of the CPU image (and the GPU image built FROM it) starts with:
rootfs_run "
  $(replay --print-env kubeflow/Dockerfile.cpu)
  echo '==> the image environment:'; echo \"python: \$(command -v python)\"
  grep PRETTY_NAME /etc/os-release
  ldd --version | sed -n 1p
  cd /
  python -c 'import sys, tfx, tensorflow, kfp, kubeflow, components
print(\"Python\", sys.version.split()[0], \"| tfx\", tfx.__version__,
      \"| tensorflow\", tensorflow.__version__, \"| kfp\", kfp.__version__)
print(\"kubeflow package:\", kubeflow.__file__)
print(\"components package:\", components.__file__)'
  echo '==> distributions that install a top-level kubeflow module (none):'
  ! grep -l '^kubeflow/' \$VIRTUAL_ENV/lib/python3.*/site-packages/*.dist-info/RECORD
  echo '==> the TFX container entrypoint, as KFP starts it:'
  python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor --help | sed -n 1,12p
  echo '==> the Kubeflow tests on the image stack:'
  cd $context && python -m pytest -q -p no:cacheprovider \
    tests/test_kubeflow_compile.py tests/test_kubeflow_schedule.py
"

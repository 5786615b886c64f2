#!/usr/bin/env bash
# Verifies the images' install steps without Docker: replays kubeflow/Dockerfile.cpu
# (and, with --gpu, kubeflow/Dockerfile.gpu) in a copy-on-write view of a Debian 13
# root file system (made with debootstrap), then checks the result as KFP would use it:
# the TFX container entrypoint starts, the project imports from any folder, and the
# Kubeflow tests pass on the image's stack.
#
#   sudo scripts/verify_images_in_rootfs.sh [--gpu] ROOTFS [PYTHON_PREFIX]
#
# ROOTFS stays untouched: everything is written to an overlay in $WORK (default
# /tmp/gan-image-check), which is unmounted on exit. The base image's Python 3.11
# comes from PYTHON_PREFIX (default /root/.pyenv, mounted at the same path, also
# copy-on-write); /root/chroot-env.sh in ROOTFS, if present, sets up the environment
# (certificates, PATH).
set -euo pipefail
gpu=false
if [ "${1:-}" = "--gpu" ]; then gpu=true; shift; fi
rootfs=$(realpath "${1:?usage: $0 [--gpu] ROOTFS [PYTHON_PREFIX]}")
python_prefix=${2:-/root/.pyenv}
work=${WORK:-/tmp/gan-image-check}
repo=$(cd "$(dirname "$0")/.." && pwd)
merged=$work/merged

mounted=()
cleanup() {
  for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -R "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"; done
}
trap cleanup EXIT
overlay() {  # overlay LOWER TARGET NAME
  mkdir -p "$work/$3-upper" "$work/$3-work" "$2"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$work/$3-upper,workdir=$work/$3-work" "$2"
  mounted+=("$2")
}

rm -rf "$work" && mkdir -p "$merged"
overlay "$rootfs" "$merged" rootfs
overlay "$python_prefix" "$merged$python_prefix" python
mount -t proc proc "$merged/proc" && mounted+=("$merged/proc")
mount --rbind /sys "$merged/sys" && mount --make-rslave "$merged/sys" && mounted+=("$merged/sys")
mount --rbind /dev "$merged/dev" && mount --make-rslave "$merged/dev" && mounted+=("$merged/dev")
for dir in /opt/wheels /opt/pypi /opt/pypi-more; do  # this host's package mirrors, if any
  if [ -d "$dir" ] && [ -d "$merged$dir" ]; then
    mount --bind "$dir" "$merged$dir" && mount -o remount,bind,ro "$merged$dir" && mounted+=("$merged$dir")
  fi
done

# The build context: the files git tracks (and new ones it does not ignore).
context=/opt/gan-image-context
mkdir -p "$merged$context"
(cd "$repo" && git ls-files --cached --others --exclude-standard -z | xargs -0 cp --parents -t "$merged$context")

chroot "$merged" /usr/bin/env -i /bin/bash -c "
  set -euo pipefail
  [ -f /root/chroot-env.sh ] && . /root/chroot-env.sh
  cd $context
  python3.11 scripts/replay_dockerfile.py kubeflow/Dockerfile.cpu
  # What a container of the CPU image (and the GPU image built FROM it) starts with:
  eval \"\$(python3.11 scripts/replay_dockerfile.py --print-env kubeflow/Dockerfile.cpu)\"
  if $gpu; then python3.11 scripts/replay_dockerfile.py kubeflow/Dockerfile.gpu; fi
  echo '==> the image environment:'; echo \"python: \$(command -v python)\"; grep PRETTY_NAME /etc/os-release
  ldd --version | head -1
  cd /
  python -c 'import sys, tfx, tensorflow, kfp, kubeflow, components; print(\"Python\", sys.version.split()[0], \"| tfx\", tfx.__version__, \"| tensorflow\", tensorflow.__version__, \"| kfp\", kfp.__version__); print(\"kubeflow package:\", kubeflow.__file__); print(\"components package:\", components.__file__)'
  echo '==> distributions that install a top-level kubeflow module:'
  grep -l '^kubeflow/' \$VIRTUAL_ENV/lib/python3.11/site-packages/*.dist-info/RECORD
  echo '==> the TFX container entrypoint, as KFP starts it:'
  python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor --help | head -12
  echo '==> the Kubeflow tests on the image stack:'
  cd $context && python -m pytest -q -p no:cacheprovider tests/test_kubeflow_compile.py tests/test_kubeflow_schedule.py
"

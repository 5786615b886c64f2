# Sourced by check_in_rootfs.sh and verify_images_in_rootfs.sh: a Debian 13 root file system
# to install and run the project in, on a machine without Docker. Needs root, debootstrap
# and overlayfs. Settings (environment variables, all optional):
#
#   ROOTFS_BASE     the pristine Debian 13 tree, made with debootstrap on first use and
#                   reused after (default /var/tmp/gan-pipeline-trixie); never written to
#   ROOTFS_WORK     where each run's copy-on-write view lives (default /tmp/gan-rootfs-run);
#                   emptied at the start of a run, unmounted at its end
#   DEBIAN_MIRROR   the Debian archive (default http://deb.debian.org/debian)
#   ROOTFS_CA_CERTS extra CA certificates (PEM files, space-separated) the root file system
#                   must trust, e.g. a TLS-intercepting proxy's; uv and pip inside are then
#                   pointed at the system's bundle (SSL_CERT_FILE, PIP_CERT)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS
#                   the package index, passed to pip and `make setup` inside; local
#                   (file:// or path) entries are mounted read-only at the same path, a
#                   `.../simple` index with its parent folder (where a mirror keeps the files)

rootfs_base=${ROOTFS_BASE:-/var/tmp/gan-pipeline-trixie}
rootfs_work=${ROOTFS_WORK:-/tmp/gan-rootfs-run}
rootfs=$rootfs_work/merged
rootfs_mounts=()
rootfs_env=(HOME=/root LANG=C.UTF-8
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

rootfs_cleanup() {
  local i
  for ((i=${#rootfs_mounts[@]}-1; i>=0; i--)); do
    umount -R "${rootfs_mounts[i]}" 2>/dev/null || umount -l "${rootfs_mounts[i]}"
  done
}

# rootfs_bind SOURCE: mounts a host folder read-only at the same path inside.
rootfs_bind() {
  mkdir -p "$rootfs$1"
  mount --bind "$1" "$rootfs$1" && mount -o remount,bind,ro "$rootfs$1"
  rootfs_mounts+=("$rootfs$1")
}

# rootfs_enter: a fresh copy-on-write view of the base at $rootfs, with /proc, /sys, /dev,
# name resolution, the extra CA certificates and the package index; unmounted on exit.
rootfs_enter() {
  local cert location
  if ! command -v debootstrap >/dev/null; then
    echo "rootfs: needs debootstrap (apt-get install debootstrap)" >&2; exit 1
  fi
  if [ ! -f "$rootfs_base/.debootstrap-done" ]; then
    echo "==> debootstrap --variant=minbase trixie $rootfs_base"
    rm -rf "$rootfs_base"
    debootstrap --variant=minbase trixie "$rootfs_base" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    touch "$rootfs_base/.debootstrap-done"
  fi
  trap rootfs_cleanup EXIT
  rm -rf "$rootfs_work" && mkdir -p "$rootfs_work/upper" "$rootfs_work/work" "$rootfs"
  mount -t overlay overlay \
    -o "lowerdir=$rootfs_base,upperdir=$rootfs_work/upper,workdir=$rootfs_work/work" "$rootfs"
  rootfs_mounts+=("$rootfs")
  mount -t proc proc "$rootfs/proc" && rootfs_mounts+=("$rootfs/proc")
  for dir in sys dev; do
    mount --rbind "/$dir" "$rootfs/$dir" && mount --make-rslave "$rootfs/$dir"
    rootfs_mounts+=("$rootfs/$dir")
  done
  # What an installed system or a container has: the host's resolver, and localhost.
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
  # update-ca-certificates adds these to the system's trust when ca-certificates installs.
  for cert in ${ROOTFS_CA_CERTS:-}; do
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp "$cert" "$rootfs/usr/local/share/ca-certificates/$(basename "${cert%.*}").crt"
  done
  # uv trusts its own built-in roots unless told otherwise, and so does a pip older than 24.2
  # (certifi's; e.g. the pip 23.2 that Python 3.12.1's ensurepip installs into .tools/uv).
  if [ -n "${ROOTFS_CA_CERTS:-}" ]; then
    rootfs_env+=(SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
                 PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  fi
  for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS; do
    [ -n "${!name:-}" ] || continue
    rootfs_env+=("$name=${!name}")
    for location in ${!name}; do
      location=${location#file://}
      location=${location%/}
      [ "$(basename "$location")" != simple ] || location=$(dirname "$location")
      if [ "${location:0:1}" = / ] && [ -d "$location" ]; then rootfs_bind "$location"; fi
    done
  done
}

# rootfs_run SCRIPT: runs a bash script inside, as root, with only rootfs_env set.
rootfs_run() {
  chroot "$rootfs" /usr/bin/env -i "${rootfs_env[@]}" /bin/bash -c "set -euo pipefail; $1"
}

# rootfs_apt PACKAGE...: installs Debian packages inside, as a user would.
rootfs_apt() {
  rootfs_run "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $* >/dev/null"
}

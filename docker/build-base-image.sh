#!/usr/bin/env bash
# Build the stand-in base image `convgrade-base:bookworm` from Debian packages, for
# machines that cannot pull from an image registry (air-gapped course servers, CI).
#
#   sudo docker/build-base-image.sh            # skips if the image already exists
#   sudo docker/build-base-image.sh --force    # rebuild
#
# Environment:
#   BASE_IMAGE   tag to produce            (default convgrade-base:bookworm)
#   MIRROR       Debian mirror             (default: the host's deb.debian.org)
#   SUITE        Debian suite              (default bookworm: python3 is 3.11 there)
#
# What is in it: debootstrap --variant=minbase plus python3 (3.11), python3-venv (pip
# and ensurepip), ca-certificates, tini (PID 1 that reaps the grader's children) and
# redis-server and postgresql (so docker-compose.scale.yml has Redis and PostgreSQL images
# without a registry). The image carries ENV CONVGRADE_PACKAGES=wheelhouse: the Dockerfile
# then installs Python packages from docker/wheelhouse/ with --no-index (docker/README.md).
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-convgrade-base:bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
PACKAGES=python3,python3-venv,ca-certificates,tini,redis-server,postgresql

force=0
[ "${1:-}" = "--force" ] && force=1

# An image from before PostgreSQL and the wheelhouse marker were added is rebuilt.
if [ "$force" = 0 ] && docker image inspect -f '{{.Config.Env}}' "$BASE_IMAGE" 2>/dev/null \
        | grep -q CONVGRADE_PACKAGES=wheelhouse; then
    echo "base image $BASE_IMAGE exists; not rebuilding (pass --force to rebuild)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "build-base-image.sh: debootstrap needs root" >&2
    exit 1
fi
command -v debootstrap >/dev/null || {
    echo "build-base-image.sh: debootstrap is not installed (apt-get install -y debootstrap)" >&2
    exit 1
}

root=$(mktemp -d /var/tmp/convgrade-rootfs.XXXXXX)
cleanup() {
    # debootstrap may leave /proc or /sys mounted inside the target on failure
    for m in proc sys dev/pts dev; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
    done
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "debootstrap $SUITE ($PACKAGES) from $MIRROR into $root"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" \
    > "$root.log" 2>&1 || { tail -n 40 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# Trim what an image does not need: apt lists and caches, docs, man pages, locales.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/var/log/*.log "$root"/var/log/apt/*
find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
# The package's own cluster (15/main) is not used: docker-compose.scale.yml makes one in a volume.
rm -rf "$root"/var/lib/postgresql/*/main "$root"/etc/postgresql/*/main
# The host's resolver and hostname must not leak into the image.
: > "$root/etc/resolv.conf"
: > "$root/etc/hostname"
# Use the normal Debian sources inside (no network in the build, but keep it sane).
echo "deb $MIRROR $SUITE main" > "$root/etc/apt/sources.list"

python_version=$(chroot "$root" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
echo "python $python_version in the root fs"

tar --numeric-owner --xattrs -C "$root" -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CONVGRADE_PACKAGES=wheelhouse' \
    --change 'CMD ["/bin/bash"]' \
    --message "convgrade base: debootstrap $SUITE minbase + python3 $python_version" \
    - "$BASE_IMAGE"
docker image ls "$BASE_IMAGE"

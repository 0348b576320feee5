#!/bin/bash
# Docker image steps for the LAMP end-to-end test (run.sh --docker), without a registry:
#
#   docker.sh base                 ensure the base image $BASE_TAG exists: debootstrap --variant=minbase
#                                  bookworm into a cache dir, then docker import (reused if the tag exists)
#   docker.sh build RINIT [TAG]    docker build -f Dockerfile.lamp FROM that base, with RINIT as /sbin/init
#
# The mirror is the one apt already uses on this machine (/etc/apt/sources.list*), so no other network
# access is needed; override with LAMP_MIRROR. Cache dir: LAMP_CACHE (default /var/tmp/rinit-lamp-cache).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BASE_TAG=${LAMP_BASE_TAG:-rinit-debian-base:bookworm}
CACHE=${LAMP_CACHE:-/var/tmp/rinit-lamp-cache}

log() { echo "docker.sh: $*" >&2; }

apt_mirror() {
    # First Debian (non-security) URI in the deb822 or one-line sources.
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE '(https?)://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ') || true
    echo "${m:-http://deb.debian.org/debian}"
}

ensure_base() {
    if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
        log "base image $BASE_TAG exists (cached)"
        return
    fi
    local tarball="$CACHE/bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
        if ! command -v debootstrap >/dev/null; then
            log "installing debootstrap"
            { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } >/dev/null 2>&1 ||
                { log "debootstrap is not installed and apt-get install debootstrap failed"; exit 1; }
        fi
        local mirror rootfs="$CACHE/rootfs"
        mirror=${LAMP_MIRROR:-$(apt_mirror)}
        mkdir -p "$CACHE"
        rm -rf --one-file-system "$rootfs"
        log "debootstrap --variant=minbase bookworm from $mirror"
        local t0=$SECONDS
        local try
        for try in 1 2; do   # one retry: a download or a stray signal must not fail the whole test
            local rc=0
            debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$CACHE/debootstrap.log" 2>&1 || rc=$?
            [ $rc = 0 ] && break
            tail -n 20 "$CACHE/debootstrap.log" >&2
            log "debootstrap failed (try $try, rc $rc, log: $CACHE/debootstrap.log)"
            mountpoint -q "$rootfs/proc" && umount "$rootfs/proc"
            rm -rf --one-file-system "$rootfs"
            [ "$try" = 2 ] && exit 1
        done
        rm -f "$rootfs"/var/cache/apt/archives/*.deb
        tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf --one-file-system "$rootfs"
        log "debootstrap + tar took $((SECONDS - t0)) s"
    fi
    log "docker import $tarball as $BASE_TAG"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        "$tarball" "$BASE_TAG" >/dev/null
}

build() {
    local rinit=$1 tag=${2:-rinit-lamp:test}
    [ -x "$rinit" ] || { log "no executable rinit binary at $rinit"; exit 1; }
    ensure_base
    # The build context is just what Dockerfile.lamp copies (not the whole repository and its target/).
    log "docker build -f Dockerfile.lamp -t $tag (base $BASE_TAG)"
    tar -C "$repo" -ch Dockerfile.lamp examples/lamp -C "$(dirname "$rinit")" --transform "s,^$(basename "$rinit")\$,rinit," "$(basename "$rinit")" |
        docker build -q --build-arg BASE="$BASE_TAG" --label rinit-lamp-test=1 -f Dockerfile.lamp -t "$tag" - >/dev/null
    # the image this one replaced (a new rinit binary): drop it, only if nothing else uses it
    docker image prune -f --filter label=rinit-lamp-test=1 >/dev/null 2>&1 || true
}

case "${1:-}" in
    base) ensure_base ;;
    build) shift; build "$@" ;;
    *) echo "usage: $0 base | build RINIT [TAG]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Prove the README's two commands on a stock Debian 12: debootstrap a bookworm root from the
# Debian mirror this machine's apt uses, copy the repository in (what `git clone` would give: the
# committed HEAD; --worktree copies the working tree instead), chroot into it and run
#     scripts/setup.sh          then          scripts/test.sh [PYTEST ARGS]
# as root with a clean environment. Prints one result line at the end and exits with the tests'
# status. Slow (Debian packages, pip, a cold Go build of influxd, the tests): not part of CI.
#
# usage: scripts/check-fresh-debian.sh [--root DIR] [--keep] [--reuse] [--worktree]
#                                      [-- PYTEST ARGS...]
#   --root DIR   where to build the root (default /var/tmp/fabricscope-fresh-debian)
#   --keep       leave the root in place afterwards (default: removed)
#   --reuse      reuse an existing (--keep) root: its Debian packages and its built influxd stay,
#                so only the repository copy and the venv are new (a quicker rerun; the full
#                proof is a run without it)
#   --worktree   copy the working tree (tracked + untracked, not ignored) instead of HEAD
#   -- ARGS      passed to pytest by scripts/test.sh, e.g. `-- tests/deploy -q` for a bounded
#                run; without them the whole suite runs, exactly the README's test command.
# Needs root (debootstrap, chroot, mounts); installs debootstrap with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOTFS=/var/tmp/fabricscope-fresh-debian
KEEP=0
REUSE=0
WORKTREE=0
PYTEST_ARGS=()
while (($#)); do
    case $1 in
    --root) ROOTFS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --reuse) REUSE=1; KEEP=1; shift ;;
    --worktree) WORKTREE=1; shift ;;
    --) shift; PYTEST_ARGS=("$@"); break ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "check-fresh-debian: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "check-fresh-debian: $*"; }
die() {
    echo "check-fresh-debian: FAILED: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"

# The mirror apt on this machine uses (deb822 .sources first, then one-line lists).
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sources+=("$f")
done
mirror=""
if ((${#sources[@]})); then
    mirror=$(awk '/^URIs:/ {print $2} /^deb / {sub(/\[[^]]*\] /, ""); print $2}' "${sources[@]}" |
        grep -E '/debian/?$' | head -n1) || mirror=""
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*"
command -v debootstrap >/dev/null 2>&1 || {
    log "apt-get install debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
} || die "cannot install debootstrap"

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[i]}" 2>/dev/null || true # best effort while tearing down
    done
    if ((KEEP == 0)) && [ -d "$ROOTFS" ]; then
        rm -rf --one-file-system "$ROOTFS"
    fi
}
trap cleanup EXIT

started=$(date +%s)
if ((REUSE)) && [ -x "$ROOTFS/usr/bin/apt-get" ]; then
    log "reusing the base system in $ROOTFS"
else
    rm -rf --one-file-system "$ROOTFS"
    log "debootstrap bookworm from $mirror into $ROOTFS"
    debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" >"$ROOTFS.debootstrap.log" 2>&1 ||
        die "debootstrap failed; see $ROOTFS.debootstrap.log"
fi
# No earlier repository copy or venv; without --reuse no caches either (a new root has none).
rm -rf "$ROOTFS/root/fabricscope"
((REUSE)) || rm -rf "$ROOTFS/root/.cache" "$ROOTFS/root/go"

# This machine's network: its DNS and any local CA that its egress needs (the chroot's
# ca-certificates, once setup installs it, picks them up from /usr/local/share/ca-certificates).
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# What the Debian installer writes and debootstrap does not: the host name and /etc/hosts.
if [ ! -e "$ROOTFS/etc/hosts" ]; then
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
        "$(hostname)" >"$ROOTFS/etc/hosts"
fi
[ -e "$ROOTFS/etc/hostname" ] || hostname >"$ROOTFS/etc/hostname"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
fi

for fs in proc sys dev dev/pts; do
    mkdir -p "$ROOTFS/$fs"
    mount --bind "/$fs" "$ROOTFS/$fs"
    mounted+=("$ROOTFS/$fs")
done
mkdir -p "$ROOTFS/dev/shm"
mount -t tmpfs -o size=1g tmpfs "$ROOTFS/dev/shm" # Chromium needs a writable /dev/shm
mounted+=("$ROOTFS/dev/shm")

mkdir -p "$ROOTFS/root/fabricscope"
if ((WORKTREE)); then
    log "copying the working tree (git ls-files: tracked + untracked, not ignored)"
    git -C "$REPO" ls-files -z --cached --others --exclude-standard |
        (cd "$REPO" && xargs -0 tar --ignore-failed-read -cf - 2>/dev/null) |
        tar -xf - -C "$ROOTFS/root/fabricscope"
else
    log "copying the repository at $(git -C "$REPO" rev-parse --short HEAD) (git archive HEAD)"
    git -C "$REPO" archive --format=tar HEAD | tar -xf - -C "$ROOTFS/root/fabricscope"
fi

# CI puts a copy of the project's shared/ (test data, read-only) beside the clone: so do we.
rm -rf "$ROOTFS/root/shared"
for shared in "$REPO/../shared" /work/shared; do
    if [ -d "$shared" ]; then
        log "copying $(cd "$shared" && pwd) beside it (as CI does)"
        cp -a "$shared" "$ROOTFS/root/shared"
        chmod -R a-w "$ROOTFS/root/shared"
        break
    fi
done

quoted=""
((${#PYTEST_ARGS[@]} == 0)) || quoted=$(printf ' %q' "${PYTEST_ARGS[@]}")
run_in_root() {
    # A clean login-like environment: nothing of this machine's Python, Go or pip settings.
    chroot "$ROOTFS" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=true \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/fabricscope && $1"
}

log "in the chroot: scripts/setup.sh"
set +e
run_in_root "scripts/setup.sh"
setup_rc=$?
test_rc=
if ((setup_rc == 0)); then
    log "in the chroot: scripts/test.sh$quoted"
    run_in_root "scripts/test.sh$quoted"
    test_rc=$?
fi
set -e
took=$(($(date +%s) - started))
versions=$(run_in_root 'echo "$(. /etc/os-release; echo "$PRETTY_NAME"), $(python3 --version 2>&1), $(go version 2>/dev/null | cut -d" " -f3)"' 2>/dev/null || true)
if ((setup_rc != 0)); then
    log "RESULT: setup.sh FAILED (exit $setup_rc) after ${took}s on ${versions}"
    exit "$setup_rc"
fi
log "RESULT: setup.sh ok; scripts/test.sh$quoted exit $test_rc after ${took}s on ${versions}"
exit "$test_rc"

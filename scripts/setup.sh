#!/usr/bin/env bash
# Install everything fabricscope and its tests need, on a stock Debian 12 machine or on one that
# already has its own Python and Go:
#   - Debian packages: python3 + python3-venv, pmacct (a real sFlow agent: sfprobe, used by the
#     tests), Chromium + chromedriver (UI tests), golang-go (only when no `go` is on PATH and no
#     influxd is built yet), ca-certificates;
#   - a project virtualenv `.venv` holding fabricscope (editable) and its dev tools, every Python
#     package pinned by constraints.txt (the Docker image installs from the same file);
#   - the managed InfluxDB 1.8.10, built once with the local Go into ~/.cache/fabricscope/bin.
# Idempotent: a second run only checks. Every failure stops the script with a message that says
# which step failed and what to do.
#
# Environment: PYTHON (default python3) picks the interpreter for the venv; FABRICSCOPE_INFLUXD
# points at an existing influxd and skips the Go build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}

say() { echo "setup: $*"; }
die() {
    echo "setup: FAILED: $*" >&2
    exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# True when $PYTHON is >= 3.11 and can build a venv with pip in it (Debian splits ensurepip into
# python3-venv; without it `python3 -m venv` fails half-way).
python_ok() {
    command -v "$PYTHON" >/dev/null 2>&1 &&
        "$PYTHON" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

influxd_ready() {
    [ -n "${FABRICSCOPE_INFLUXD:-}" ] ||
        [ -x "${FABRICSCOPE_CACHE_DIR:-$HOME/.cache/fabricscope}/bin/influxd" ]
}

# ------------------------------------------------------------------ Debian packages
need_apt=()
python_ok || need_apt+=(python3 python3-venv)
[ -s /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
command -v pmacctd >/dev/null 2>&1 || [ -x /usr/sbin/pmacctd ] || need_apt+=(pmacct)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# Debian 12's golang-go is 1.19: it builds influxd 1.8.10 (GOTOOLCHAIN=local, see below).
influxd_ready || command -v go >/dev/null 2>&1 || need_apt+=(golang-go)
# Optional native extensions (setup.py ext_modules; each has a pure-Python path): a C compiler
# and the interpreter's headers.
if [ -f setup.py ]; then
    command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
    if command -v "$PYTHON" >/dev/null 2>&1 && ! "$PYTHON" -c 'import os, sysconfig, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        2>/dev/null; then
        need_apt+=(python3-dev)
    fi
fi

if ((${#need_apt[@]})); then
    if is_root; then
        say "apt-get install ${need_apt[*]}"
        apt-get update -qq || die "apt-get update failed (is a Debian mirror reachable?)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${need_apt[@]}" >/dev/null ||
            die "apt-get install ${need_apt[*]} failed; run it by hand to see why"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        say "sudo apt-get install ${need_apt[*]}"
        sudo apt-get update -qq || die "apt-get update failed (is a Debian mirror reachable?)"
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${need_apt[@]}" >/dev/null ||
            die "sudo apt-get install ${need_apt[*]} failed; run it by hand to see why"
    else
        # Python and (if needed) Go are hard requirements; the rest only skips some tests.
        python_ok || die "no usable Python >= 3.11 with venv. Run as root, or:
    sudo apt-get install python3 python3-venv"
        if ! influxd_ready && ! command -v go >/dev/null 2>&1; then
            die "no influxd and no Go to build it. Run as root, or: sudo apt-get install golang-go
    (or set FABRICSCOPE_INFLUXD to an influxd 1.8.x binary)"
        fi
        echo "setup: WARNING: missing ${need_apt[*]}; the tests that need them are skipped." \
            "Install with: sudo apt-get install ${need_apt[*]}" >&2
    fi
fi
python_ok || die "$PYTHON is missing, older than 3.11 or lacks venv/ensurepip even after apt-get"

# ------------------------------------------------------------------ project virtualenv
# A venv, not a system-wide pip install: Debian's python3 refuses those (PEP 668,
# externally-managed-environment) and a project must not write into the system's Python.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    say "creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv $VENV' failed"
fi
# constraints.txt pins every Python package (direct and transitive) to the versions the suite
# passes with; pip fails loudly when they cannot be met, and the failure stops the script.
say "pip install -e '.[dev]' -c constraints.txt into .venv"
PIP_CONSTRAINT="$ROOT/constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$VENV/bin/python" -m pip install -q \
    -c "$ROOT/constraints.txt" -e "$ROOT[dev]" ||
    die "pip install into $VENV failed (see pip's message above; PyPI must be reachable)"
"$VENV/bin/python" -c 'import fabricscope.cli' || die "fabricscope does not import from $VENV"

# Optional native extensions, built in place with the venv's Python and the pinned setuptools
# (a venv's bundled setuptools is too old for pyproject's PEP 639 license field). Optional by
# design: a failure leaves the pure-Python paths, and says so.
if [ -f setup.py ]; then
    PIP_CONSTRAINT="$ROOT/constraints.txt" "$VENV/bin/python" -m pip install -q setuptools ||
        die "pip install setuptools into $VENV failed"
    if ! "$VENV/bin/python" setup.py -q build_ext --inplace >"$VENV/native-build.log" 2>&1; then
        say "optional native extensions not built (see .venv/native-build.log): pure Python"
    fi
fi

# ------------------------------------------------------------------ managed InfluxDB 1.8.10
# Build it now (≈75 s warm, ≈3 min cold on 2 cores) rather than inside the first test.
# influxdb_local sets GOTOOLCHAIN=local so an older Go never tries to download a newer toolchain.
"$VENV/bin/python" - <<'PY' || die "could not build or find influxd (message above)"
import logging
import sys

from fabricscope.influxdb_local import InfluxDBLocalError, ensure_influxd

logging.basicConfig(level=logging.INFO, format="setup: %(message)s")
try:
    print("setup: influxd at", ensure_influxd())
except InfluxDBLocalError as exc:
    print(f"setup: {exc}", file=sys.stderr)
    sys.exit(1)
PY

say "done. Use the venv: .venv/bin/fabricscope demo  (or: . .venv/bin/activate)"

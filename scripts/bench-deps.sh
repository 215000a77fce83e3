#!/usr/bin/env bash
# What `make bench` needs beyond `make setup`: the onset benchmark compares the
# engine's detector with aubio (GPL: benchmark-only, never a dependency of the
# engine), which has no wheel on PyPI, so pip builds it from source. That needs
# a C compiler and the headers of the .venv's Python. Installs the missing ones
# with apt (as root or through password-less sudo), else says what to install.
# Kept out of scripts/setup.sh: a therapist's machine never needs a compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/apt-install.sh

headers() { .venv/bin/python -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; }

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
headers || missing+=(python3-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bench: aubio (the onset benchmark's comparator) is built from source and needs a C compiler" \
     "and the Python headers: installing ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: no apt-get here: install a C compiler and your Python's development headers, then run make bench again." >&2
  exit 1
fi
apt_install bench "run make bench again" "${missing[@]}"
if ! headers; then  # python3-dev serves Debian's own python3 only
  echo "bench: $(.venv/bin/python -c 'import sys; print(sys.base_prefix)') has no Python.h:" \
       "install that Python's development headers, then run make bench again." >&2
  exit 1
fi

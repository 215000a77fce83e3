#!/usr/bin/env bash
# Set-up for Tandem on Debian/Ubuntu: system packages (when missing), .venv,
# the package installed editable with its test extras. Idempotent and quick
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/apt-install.sh

APT_PACKAGES=(libportaudio2 jackd2 libjack-jackd2-0 libfluidsynth3 timgm6mb-soundfont
              libsndfile1 xvfb sox
              # reports: WeasyPrint draws text with Pango and subsets fonts with HarfBuzz; DejaVu is the font
              libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
PYTHON=${PYTHON:-python3}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # python3-venv is only needed when the interpreter has no working venv module.
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3-venv); fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  apt_install setup "run make again" "${missing[@]}"
fi

stamp=.venv/.tandem-setup
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the project's dependencies changed.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
echo "setup: ready"

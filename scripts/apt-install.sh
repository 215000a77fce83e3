# Sourced by scripts/setup.sh and scripts/bench-deps.sh:
#   apt_install WHO AGAIN PACKAGE...
# installs the Debian packages with apt-get, as root or through password-less sudo;
# otherwise says (prefixed "WHO:") which command to run, then "AGAIN", and exits 1.
apt_install() {
  local who=$1 again=$2 sudo
  shift 2
  if [ "$(id -u)" -eq 0 ]; then sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"
  else
    echo "$who: these system packages are missing and I cannot install them (not root, no password-less sudo):" >&2
    echo "       $*" >&2
    echo "       Install them with: sudo apt-get install -y $*  and $again." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

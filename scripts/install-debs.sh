#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages octperf needs: HAProxy and nginx for the
# local bed, and python3-venv where Python cannot make a virtualenv; with
# --tests also OpenSSH's server, which the SSH collector's tests start on a
# loopback port. As root it installs them; otherwise it prints the exact
# command and fails.
set -euo pipefail

wanted=(haproxy nginx)
python3 -c 'import venv, ensurepip' 2>/dev/null || wanted+=(python3-venv)
if [ "${1:-}" = "--tests" ]; then
  wanted+=(openssh-server)
fi

installed() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
  else
    PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1
  fi
}

missing=()
for package in "${wanted[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "octperf needs Debian packages that are not installed. Run:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "then run make again." >&2
  exit 1
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs the genuine OpenStack Octavia amphora agent for the amphora test bed:
#   - the Debian packages the agent asks dpkg-query about on every /info and
#     /details call (it answers 500 when one is missing): haproxy, keepalived,
#     ipvsadm;
#   - a virtualenv of its own (default .venv-agent in the repository) with a
#     pinned octavia and what octavia imports without declaring it.
# Idempotent: a marker file in the virtualenv records what was installed, so a
# second run with nothing to do takes well under a second.
#
#   usage: scripts/install-agent.sh [VENV_DIR]
#
# It needs root (apt-get, and the agent itself runs as root). As another user it
# prints the exact sudo line and exits 1.
set -euo pipefail

OCTAVIA_VERSION=19.0.0
# Imported by octavia's agent (amphora_info.py, network_utils.py) but not
# among its declared dependencies; pinned to the version tested with it.
UNDECLARED=(pyroute2==0.9.7)
DEBS=(haproxy keepalived ipvsadm)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${1:-$repo/.venv-agent}
marker=$venv/.octperf-agent-installed
want="octavia==$OCTAVIA_VERSION ${UNDECLARED[*]}"

if [ "$(id -u)" -ne 0 ]; then
  echo "the amphora agent needs root (Debian packages, network namespaces). Run:" >&2
  echo "  sudo bash $repo/scripts/install-agent.sh $venv" >&2
  exit 1
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for package in "${DEBS[@]}"; do
  installed "$package" || missing+=("$package")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] \
  && [ -x "$venv/bin/amphora-agent" ]; then
  exit 0
fi

echo "installing $want into $venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "octavia==$OCTAVIA_VERSION" "${UNDECLARED[@]}"
PYTHONWARNINGS=ignore "$venv/bin/python" -c 'import octavia.cmd.agent, pyroute2'
# What pip resolved, for the record: octavia pins few of its dependencies.
"$venv/bin/pip" freeze --disable-pip-version-check >"$venv/octperf-agent-freeze.txt"
echo "$want" >"$marker"
echo "amphora agent installed: $venv/bin/amphora-agent"

#!/usr/bin/env bash
# Install what regionstack needs on this machine, idempotently:
#   1. the Python venv (.venv) with the pinned dependencies of pyproject.toml;
#   2. the Pulumi CLI and Python language host, built from Go modules (toolchain/build.sh)
#      into a cache outside the repo, reused on later runs.
# Then source scripts/env.sh for the environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[setup] %s\n' "$*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { say "missing $1: $2"; exit 2; }
}

# Non-login shells (CI) may lack Go's directory on PATH.
[ -d /usr/local/go/bin ] && PATH="$PATH:/usr/local/go/bin" && export PATH
need go "install Go >= 1.26 (it builds the Pulumi CLI from its Go modules)"

# A Python 3.11 that can create a venv (Debian's needs python3.11-venv for ensurepip).
python=""
for candidate in "$(command -v python3.11 || true)" "$HOME/.pyenv/shims/python3.11" \
                 /usr/local/bin/python3.11 /usr/bin/python3.11; do
  if [ -x "$candidate" ] && "$candidate" -c 'import ensurepip, venv' 2>/dev/null; then
    python="$candidate"; break
  fi
done
[ -n "$python" ] || { say "no Python 3.11 that can create a venv: apt-get install python3.11-venv"; exit 2; }

# 0. Debian packages of the local target (nspawn hosts, their network and gateway
#    services) and of the toolchain build. Installed only when one is missing.
debs=(debootstrap debian-archive-keyring systemd-container nftables iproute2 dnsmasq-base
      chrony apt-cacher-ng openssh-client util-linux
      # the reference services (services/) run on Debian's Python and packages; their
      # tests start a real PostgreSQL and RabbitMQ of their own
      python3-flask gunicorn python3-psycopg python3-pika python3-pytest
      postgresql rabbitmq-server openssl)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { say "need root to install: ${missing[*]}"; exit 2; }
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # The packaged daemons are started by regionstack (or the tests) with their own
  # configuration, never system-wide: keep their install scripts from starting them.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$added_policy" ]; then rm -f "$policy"; fi
fi

# 1. venv, reinstalled only when pyproject.toml changes.
stamp=".venv/.regionstack-installed"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing the Python environment (.venv)"
  rm -rf .venv
  "$python" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$stamp"
fi

# 2. Pulumi toolchain (cached outside the repo; prints its bin dir last).
# shellcheck source=scripts/env.sh
source scripts/env.sh
bindir="$(bash toolchain/build.sh | tail -n 1)"
mkdir -p "$REGIONSTACK_CACHE_DIR/toolchain"
echo "$bindir" > "$REGIONSTACK_CACHE_DIR/toolchain/current"
say "pulumi $("$bindir/pulumi" version) from $bindir"

# Source this file to get regionstack's environment in your shell:
#   source scripts/env.sh
# It puts the project venv and the self-built Pulumi toolchain on PATH and points Pulumi at
# a local file backend. It builds nothing; run scripts/setup.sh once first.
#
# Pulumi state: ${REGIONSTACK_STATE_DIR:-$XDG_STATE_HOME/regionstack or ~/.local/state/regionstack}/pulumi
# Secrets: the passphrase provider. Local stacks fall back to the documented default
# passphrase below; AWS stacks refuse it (see docs/operations.md) and need your own
# PULUMI_CONFIG_PASSPHRASE or an awskms:// secrets provider.

_rs_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REGIONSTACK_ROOT="$_rs_root"
export REGIONSTACK_CACHE_DIR="${REGIONSTACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/regionstack}"
export REGIONSTACK_STATE_DIR="${REGIONSTACK_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/regionstack}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$REGIONSTACK_STATE_DIR/pulumi}"
export PULUMI_HOME="${PULUMI_HOME:-$REGIONSTACK_STATE_DIR/pulumi-home}"
# Offline machine: never look for CLI updates or download plugins.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
# The documented default for LOCAL stacks only (infra/config/secrets.py enforces that).
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-regionstack-local-only}"
if [ -f "$REGIONSTACK_CACHE_DIR/toolchain/current" ]; then
  PATH="$(cat "$REGIONSTACK_CACHE_DIR/toolchain/current"):$PATH"
fi
[ -d /usr/local/go/bin ] && PATH="$PATH:/usr/local/go/bin"
PATH="$_rs_root/.venv/bin:$PATH"
export PATH
mkdir -p "$REGIONSTACK_STATE_DIR/pulumi" "$PULUMI_HOME"
unset _rs_root

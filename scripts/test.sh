#!/usr/bin/env bash
# The test command: set up, then run every test suite (static checks, unit tests, and the
# Pulumi integration tests against the real engine and a file backend).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
exec pytest -p no:cacheprovider tests/unit tests/e2e "$@"

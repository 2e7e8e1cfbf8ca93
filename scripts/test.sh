#!/usr/bin/env bash
# The test command: set up, then run every test suite: the reference services' own tests
# (against a real PostgreSQL and RabbitMQ they start), static checks, unit tests, and the
# integration tests with the real Pulumi engine, real machines and a file backend.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
# The reference services run on Debian's Python 3 and packages, as on the hosts.
/usr/bin/python3 -m pytest -p no:cacheprovider -q services
# The slowest phases are listed at the end: where CI's time went, run by run.
exec pytest -p no:cacheprovider --durations=15 tests/unit tests/e2e "$@"

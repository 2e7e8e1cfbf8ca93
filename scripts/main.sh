#!/usr/bin/env bash
# The main job: set up, validate the unified configuration, and deploy the default local
# region (the sample county) with Pulumi; the second `pulumi up` must change nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

stack="${REGIONSTACK_STACK:-chunan}"
regionstack validate
regionstack render --check
pulumi stack select --create "$stack" >/dev/null
pulumi preview --stack "$stack"
pulumi up --stack "$stack" --yes --skip-preview
# Idempotence: a second run must find nothing to change.
pulumi up --stack "$stack" --yes --expect-no-changes
pulumi stack output --stack "$stack" region

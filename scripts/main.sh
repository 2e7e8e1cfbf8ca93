#!/usr/bin/env bash
# The main job: set up, validate the unified configuration, and deploy the sample hierarchy
# locally — province 浙江省 (zhejiang), city 杭州市 (hangzhou), county 淳安县 (chunan), top
# down, since each region's CA and federation parent come from the stack above it: one
# `regionstack fleet up` (parents first, each region's `pulumi up` in its own process,
# journaled; docs/fleet.md). Each region's `up` boots its hosts as systemd-nspawn
# machines and configures them with the site playbook. Then verify: a second `pulumi up` of every region changes nothing, and
# every region's portal answers over HTTPS with the standard's sections, and every
# region passes `regionstack verify` (the testinfra suites of tests/hosts).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

read -r -a stacks <<<"${REGIONSTACK_STACKS:-zhejiang hangzhou chunan}"
regionstack validate
regionstack render --check
regionstack image build
# A handful of regions: no canary waves (siblings, when given, start together).
regionstack fleet up --no-canaries "${stacks[@]}"
# Idempotence: a second run must find nothing to change, hosts and configuration alike.
for stack in "${stacks[@]}"; do
  pulumi up --stack "$stack" --yes --expect-no-changes
done
for stack in "${stacks[@]}"; do
  regionstack inventory "$stack" >/dev/null
  regionstack probe "$stack"
done
# The auditors' evidence: the testinfra suites of every role and the flows, per region
# (a child region also across its link to the parent).
for stack in "${stacks[@]}"; do
  regionstack verify "$stack"
done
regionstack local status
echo "regions ${stacks[*]} are up and configured; tear down (bottom up) with:"
for ((i = ${#stacks[@]} - 1; i >= 0; i--)); do echo "  pulumi destroy --stack ${stacks[i]} --yes"; done

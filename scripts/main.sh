#!/usr/bin/env bash
# The main job: set up, validate the unified configuration, and deploy the default local
# region (the sample county 淳安县, stack `chunan`) with Pulumi: its hosts boot as
# systemd-nspawn machines. Then verify: a second `pulumi up` changes nothing, and every
# host answers over SSH as the admin user (Ansible ping through the generated inventory).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

stack="${REGIONSTACK_STACK:-chunan}"
regionstack validate
regionstack render --check
regionstack image build
pulumi stack select --create "$stack" >/dev/null
pulumi preview --stack "$stack"
pulumi up --stack "$stack" --yes --skip-preview
# Idempotence: a second run must find nothing to change.
pulumi up --stack "$stack" --yes --expect-no-changes
inventory="$(regionstack inventory "$stack")"
ANSIBLE_HOST_KEY_CHECKING=true ansible -i "$inventory" all -m ansible.builtin.ping
regionstack local status
echo "region $stack is up; inventory: $inventory; tear down with: pulumi destroy --stack $stack"

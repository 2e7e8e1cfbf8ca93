"""The `local` target of the program: one region on this controller.

`deploy_local(selection, region)` checks the controller, plans the region
(infra/local/plan.py), builds the LocalRegion component beneath the region (image or
image layers, admin key, bridge and gateway services, nftables, one machine per host),
issues the PKI and service credentials (infra/program/shared.py), exports what the
inventory is built from, and configures the hosts with the site playbook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from infra import playbook
from infra.config.environment import apt_cache_root, local_state_root
from infra.config.stack import StackSelection
from infra.layers import BASE
from infra.local import image, preflight
from infra.local.firewall_rules import inbound_by_host, render_ruleset
from infra.local.gateway_services import apt_sources
from infra.local.image import ADMIN_USER, DEFAULT_RECIPE, ImageError, recipe_digest
from infra.local.layers.build import current_digests
from infra.local.plan import RegionPlan, plan_region
from infra.program.shared import deploy_pki, deploy_secrets, region_output
from modules.local.layers import ImageLayersInputs
from modules.local.region import LocalRegion, LocalRegionArgs
from modules.pki.region import PkiHost
from modules.playbook import Playbook, PlaybookInputs
from modules.region import Region


def host_layers(selection: StackSelection, plan: RegionPlan) -> ImageLayersInputs | None:
    """The layers the region's hosts boot from, by digest; None on the bare image."""
    if selection.config["target"]["image"] != "baked":
        return None
    digests = current_digests(selection.project_dir, selection.fleet.standard_data)
    wanted = {BASE, *(host.component for host in plan.hosts)}
    return ImageLayersInputs(
        project_dir=str(selection.project_dir),
        digests={name: digest for name, digest in digests.items() if name in wanted},
    )


def deploy_local(selection: StackSelection, region: Region) -> None:
    try:
        preflight.check_controller()
        apt_upstream = image.controller_mirror().uri
        apt_security_upstream = image.controller_security_mirror()
    except (preflight.PreflightError, ImageError) as err:
        raise pulumi.RunError(str(err)) from None
    plan = plan_region(selection.fleet, selection.region)
    local = LocalRegion(
        f"{plan.stack}-local",
        LocalRegionArgs(
            plan=plan,
            image_digest=recipe_digest(),
            ruleset=render_ruleset(plan, selection.fleet.standard),
            apt_upstream=apt_upstream,
            apt_security_upstream=apt_security_upstream,
            admin_user=ADMIN_USER,
            state_root=str(local_state_root()),
            apt_cache_dir=str(apt_cache_root() / plan.stack),
            layers=host_layers(selection, plan),
        ),
        pulumi.ResourceOptions(parent=region),
    )
    pki = deploy_pki(selection, region, [PkiHost(h.name, h.address) for h in plan.hosts])
    secrets = deploy_secrets(selection, region)
    # The inventory is built from exactly these, by the Playbook resource at deploy time
    # and by `regionstack inventory` from the stack's outputs afterwards.
    outputs: dict[str, Any] = {
        "region": region_output(selection, region),
        "target": region.target,
        "effective_config": region.effective_config,
        "effective_config_json": json.dumps(selection.config, sort_keys=True, ensure_ascii=False),
        "hosts": local.hosts,
        "known_hosts": local.known_hosts,
        "admin_user": ADMIN_USER,
        "admin_private_key": local.admin_key.private_key,
        "gateway": plan.gateway,
        "apt_sources": apt_sources(plan.gateway, DEFAULT_RECIPE.suite, apt_security_upstream),
        "inbound": inbound_by_host(plan, selection.fleet.standard),
        "image_layers": local.image_layers,
        "current_layers": local.current_layers,
        "tls": pki.tls,
        "service_secrets": secrets.values,
    }
    for key in ("hosts", "known_hosts", "admin_user", "admin_private_key", "gateway"):
        pulumi.export(key, outputs[key])
    pulumi.export("apt_sources", outputs["apt_sources"])
    pulumi.export("effective_config_json", outputs["effective_config_json"])
    pulumi.export("inbound", outputs["inbound"])
    pulumi.export("image_layers", outputs["image_layers"])
    pulumi.export("current_layers", outputs["current_layers"])
    # `pulumi config set regionstack:configure false` provisions the hosts without running
    # the roles on them (for work on the target itself); the default configures.
    if pulumi.Config("regionstack").get_bool("configure") is not False:
        configure(plan.stack, selection.project_dir, outputs, region, local)


def configure(
    stack: str, project_dir: Path, outputs: dict[str, Any], region: Region, local: LocalRegion
) -> Playbook:
    return Playbook(
        f"{stack}-site",
        PlaybookInputs(
            stack=stack,
            project_dir=str(project_dir),
            content_hash=playbook.content_hash(project_dir),
            outputs=pulumi.Output.all(**outputs),
        ),
        pulumi.ResourceOptions(parent=region, depends_on=[local]),
    )

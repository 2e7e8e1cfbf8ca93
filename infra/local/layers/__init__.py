"""The local target's image layers (infra/layers/ says what a layer is): baked on a build
network of their own by the site playbook's `bake` tasks, cached beside the base image,
mounted by machines as overlay lower dirs.

The modules: `errors`, `cache` (where layers live, finding and publishing one), `scrub`
(removing per-host state), `build_network` (the `bake` region), `inventory` (what a bake
run may know), `machines` (the build hosts), `build` (cached or built: the entry point), `status` and
`prune` (what `regionstack image status` and `prune` say and do about layers).
"""

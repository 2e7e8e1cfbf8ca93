"""regionstack: the Pulumi program and the tooling that deploy a region's standard stack."""

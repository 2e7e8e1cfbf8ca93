"""The `aws` target's components (type tokens `regionstack:aws:<Name>`), built on pulumi_aws."""

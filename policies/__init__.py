"""The `regionstack-mlps` CrossGuard policy pack (MLPS 2.0 level 3): see policies/README.md."""

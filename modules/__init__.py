"""Reusable Pulumi ComponentResources of regionstack (type tokens `regionstack:<module>:<Name>`)."""

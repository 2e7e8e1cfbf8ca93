"""The unified configuration: schema, loading and validation, effective config, rendering.

This package is the one place that reads `stacks/`; the Pulumi program, the CLI and the
tests all go through it.
"""

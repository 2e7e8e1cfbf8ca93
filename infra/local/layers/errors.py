"""The error of the layer pipeline: the message says why, or what to do."""

from __future__ import annotations


class LayerError(Exception):
    """A layer could not be built, found or pruned; the message says why."""

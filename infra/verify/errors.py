"""The one error of verify: the region cannot be verified as asked."""

from __future__ import annotations


class VerifyError(Exception):
    """The region cannot be verified as asked; the message says what to do."""

"""The errors of the image pipeline: each message says why, or what to do."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ImageError(Exception):
    """The image could not be built, restored or pruned; the message says why."""


class ImagePreflightError(ImageError):
    """The controller cannot build images yet; the message says what to do."""


class ImageInUseError(ImageError):
    """Some images were kept because machines use them; `removed` lists what did go."""

    def __init__(self, message: str, removed: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.removed = list(removed)

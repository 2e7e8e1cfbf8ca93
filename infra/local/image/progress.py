"""How a build reports progress: one line at a time, with debootstrap's output condensed."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

Progress = Callable[[str], None]


def print_progress(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


class DebootstrapProgress:
    """Condenses debootstrap's hundreds of `I:` lines into one line per phase."""

    # (pattern of an `I:` message, phase it starts); "" keeps the current phase.
    _PHASES = (
        (r"(Retrieving|Validating) (InRelease|Release|Packages)\b", "fetching the package index"),
        (r"(Checking|Valid) Release signature", ""),
        (r"Resolving dependencies", "resolving dependencies"),
        (r"Found |Checking component", ""),
        (r"Retrieving |Validating ", "retrieving packages"),
        (r"Chosen extractor|Extracting ", "extracting packages"),
        (r"Installing core packages", "installing core packages"),
        (r"Unpacking required packages", "unpacking required packages"),
        (r"Configuring required packages", "configuring required packages"),
        (r"Unpacking the base system", "unpacking the other packages"),
        (r"Configuring the base system", "configuring the other packages"),
        (r"Unpacking |Configuring ", ""),
        (r"Base system installed", "base system installed"),
    )

    def __init__(self) -> None:
        self.phase: str | None = None
        self.retrieved = 0
        self.tail: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one output line; return the progress line to show, if any."""
        line = line.rstrip()
        self.tail = [*self.tail[-29:], line]
        if line.startswith(("W: ", "E: ")):
            kind = "warning" if line[0] == "W" else "error"
            return f"debootstrap {kind}: {line[3:]}"
        if not line.startswith("I: "):
            return None
        message = line[3:]
        phase = next((name for pattern, name in self._PHASES if re.match(pattern, message)), "")
        if phase == "retrieving packages" and message.startswith("Retrieving "):
            self.retrieved += 1
        if not phase or phase == self.phase:
            return None
        self.phase = phase
        if phase == "base system installed":
            return f"debootstrap: {phase} ({self.retrieved} packages)"
        return f"debootstrap: {phase}…"

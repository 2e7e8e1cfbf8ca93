"""The rollout's progress line on stderr: done, running, failed, blocked, and an ETA.

Throttled to one line per `interval` seconds (a national rollout settles thousands of
regions), always printed at the end. The ETA assumes the remaining regions take the
mean time of those applied so far, `concurrency` at a time (fewer when fewer are left: the
last regions of a rollout, or a small one, do not share the cap).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    total: int
    concurrency: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    interval: float = 1.0
    done: int = 0
    running: int = 0
    failed: int = 0
    blocked: int = 0
    _seconds: float = 0.0
    _last: float = float("-inf")

    def applied(self, seconds: float) -> None:
        self.done += 1
        self._seconds += seconds

    def eta(self) -> float | None:
        if not self.done:
            return None
        remaining = self.total - self.done - self.failed - self.blocked
        at_once = max(min(self.concurrency, remaining), 1)
        return remaining * (self._seconds / self.done) / at_once

    def line(self) -> str:
        eta = self.eta()
        return (
            f"fleet: {self.done}/{self.total} done, {self.running} running, "
            f"{self.failed} failed, {self.blocked} blocked"
            + (f", ETA {eta:.0f} s" if eta is not None else "")
        )

    def show(self, final: bool = False) -> None:
        now = time.monotonic()
        if final or now - self._last >= self.interval:
            self._last = now
            print(self.line(), file=self.stream, flush=True)

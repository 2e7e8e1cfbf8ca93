"""The rollout's append-only journal: JSON lines, each fsynced before the work goes on.

Records: `plan` (first line: the plan digest the journal belongs to), `started`,
`applied`, `failed`, `blocked`, `rerun` (written on resume for a region that was started
but never finished: its `up` is run again, which is safe because `pulumi up` is
idempotent), `retry` (a failed region to attempt again: it and the regions it blocked
are pending once more) and `done` (every region of the plan applied). A process killed mid-write leaves at most one partial last line: it was
never durable, so it is cut off on open and its work is done again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class JournalMismatch(Exception):
    """The journal belongs to another plan."""


@dataclass
class JournalState:
    """What the records say: each region's last outcome."""

    applied: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    applied_count: Counter[str] = field(default_factory=Counter)
    done: bool = False

    def add(self, record: dict[str, Any]) -> None:
        event, stack = record["event"], record.get("stack", "")
        if event == "started":
            self.started.add(stack)
        elif event == "applied":
            self.applied.add(stack)
            self.applied_count[stack] += 1
            self.started.discard(stack)
        elif event == "failed":
            self.failed[stack] = record.get("error", "")
            self.started.discard(stack)
        elif event == "blocked":
            self.blocked[stack] = record.get("by", "")
        elif event == "retry":
            self.failed.pop(stack, None)
            self.blocked = {s: by for s, by in self.blocked.items() if by != stack}
        elif event == "done":
            self.done = True

    @property
    def unfinished(self) -> set[str]:
        """Started and neither applied nor failed: the run was killed during their `up`."""
        return self.started - self.applied - set(self.failed)

    def settled(self, stack: str) -> bool:
        return stack in self.applied or stack in self.failed or stack in self.blocked


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete records of `path`; a partial last line is cut off the file."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with path.open("r+b") as handle:
            handle.truncate(len(complete))
            os.fsync(handle.fileno())
    return [json.loads(line) for line in complete.decode("utf-8").splitlines() if line]


class Journal:
    def __init__(self, path: Path, plan_digest: str, records: list[dict[str, Any]]) -> None:
        self.path = path
        self.plan_digest = plan_digest
        self.state = JournalState()
        for record in records:
            self.state.add(record)
        self.resumed = bool(records)
        self._handle = path.open("a", encoding="utf-8")

    @classmethod
    def open(cls, path: Path, plan_digest: str, new: bool = False) -> Journal:
        """Resume `path` if it is an unfinished rollout of `plan_digest`. A finished one
        (`done`) is history, set aside: running the same command again is a new rollout,
        each region's `up` again (a no-op where nothing changed, and it picks up changed
        code, which no plan digest covers). An unfinished journal of another plan is set
        aside when `new` says so, and refused otherwise."""
        path.parent.mkdir(parents=True, exist_ok=True)
        records = read_records(path) if path.is_file() else []
        finished = bool(records) and records[-1].get("event") == "done"
        if records and (finished or records[0].get("plan") != plan_digest):
            if not new and not finished:
                raise JournalMismatch(
                    f"{path} is the journal of plan {records[0].get('plan')}, not of this plan "
                    f"({plan_digest}): the regions or their configuration changed since. "
                    "Finish that rollout with its plan (the same command), or start over with "
                    "--new-journal (the old journal is kept beside it)"
                )
            path.rename(_aside(path))
            records = []
        journal = cls(path, plan_digest, records)
        if not records:
            journal.append({"event": "plan", "plan": plan_digest})
            journal.resumed = False
        return journal

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.state.add(record)

    def close(self) -> None:
        self._handle.close()


def _aside(path: Path) -> Path:
    n = 1
    while (candidate := path.with_name(f"{path.name}.{n}")).exists():
        n += 1
    return candidate

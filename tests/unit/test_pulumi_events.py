"""Reading the engine's event log of a `pulumi preview`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.pulumi_events import EventLogError, read_events


def test_read_events_skips_blank_lines(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(json.dumps({"sequence": 1}) + "\n\n" + json.dumps({"sequence": 2}) + "\n")
    assert [e["sequence"] for e in read_events(log)] == [1, 2]


def test_read_events_names_the_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"sequence": 1}\n{not json\n')
    with pytest.raises(EventLogError, match=r"events.jsonl: line 2 is not JSON"):
        read_events(log)


def test_a_missing_log_is_an_error_not_an_empty_preview(tmp_path: Path) -> None:
    # A scan must never read "no events" as "nothing drifted".
    with pytest.raises(OSError):
        read_events(tmp_path / "events.jsonl")

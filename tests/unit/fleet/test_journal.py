from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.fleet.journal import Journal, JournalMismatch, read_records


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_new_journal_starts_with_its_plan(tmp_path: Path) -> None:
    path = tmp_path / "fleet" / "journal.jsonl"
    journal = Journal.open(path, "sha256:1")
    journal.append({"event": "started", "stack": "a"})
    journal.close()
    assert lines(path) == [
        {"event": "plan", "plan": "sha256:1"},
        {"event": "started", "stack": "a"},
    ]
    assert not journal.resumed


def test_reopened_journal_resumes_its_state(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path, "sha256:1")
    for event, stack in [("started", "a"), ("applied", "a"), ("started", "b"), ("started", "c")]:
        journal.append({"event": event, "stack": stack})
    journal.append({"event": "failed", "stack": "c", "error": "boom"})
    journal.append({"event": "blocked", "stack": "d", "by": "c"})
    journal.close()
    again = Journal.open(path, "sha256:1")
    assert again.resumed
    state = again.state
    assert (state.applied, state.failed, state.blocked) == ({"a"}, {"c": "boom"}, {"d": "c"})
    assert state.unfinished == {"b"}
    assert state.settled("a") and state.settled("d") and not state.settled("b")
    assert lines(path)[0] == {"event": "plan", "plan": "sha256:1"}
    assert len(lines(path)) == 7


def test_partial_last_line_from_a_kill_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event": "plan", "plan": "p"}\n{"event": "applied", "st', encoding="utf-8")
    assert read_records(path) == [{"event": "plan", "plan": "p"}]
    assert path.read_text(encoding="utf-8") == '{"event": "plan", "plan": "p"}\n'


def test_journal_of_another_plan_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal.open(path, "sha256:old").close()
    with pytest.raises(JournalMismatch) as refused:
        Journal.open(path, "sha256:new")
    message = str(refused.value)
    assert "journal of plan sha256:old, not of this plan (sha256:new)" in message
    assert "--new-journal" in message


def test_new_journal_sets_the_old_one_aside(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal.open(path, "sha256:old").close()
    Journal.open(path, "sha256:older", new=True).close()
    Journal.open(path, "sha256:new", new=True).close()
    assert lines(path) == [{"event": "plan", "plan": "sha256:new"}]
    assert lines(tmp_path / "j.jsonl.1") == [{"event": "plan", "plan": "sha256:old"}]
    assert lines(tmp_path / "j.jsonl.2") == [{"event": "plan", "plan": "sha256:older"}]


def test_applied_twice_is_counted(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.jsonl", "p")
    journal.append({"event": "applied", "stack": "a"})
    journal.append({"event": "applied", "stack": "a"})
    assert journal.state.applied_count["a"] == 2


def test_retry_makes_a_failure_and_what_it_blocked_pending_again(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.jsonl", "p")
    journal.append({"event": "failed", "stack": "a", "error": "x"})
    journal.append({"event": "failed", "stack": "b", "error": "y"})
    journal.append({"event": "blocked", "stack": "a1", "by": "a"})
    journal.append({"event": "blocked", "stack": "b1", "by": "b"})
    journal.append({"event": "retry", "stack": "a"})
    assert (journal.state.failed, journal.state.blocked) == ({"b": "y"}, {"b1": "b"})


def test_done_journal_of_another_plan_is_set_aside_without_asking(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    old = Journal.open(path, "sha256:old")
    old.append({"event": "done"})
    old.close()
    Journal.open(path, "sha256:new").close()
    assert lines(path) == [{"event": "plan", "plan": "sha256:new"}]
    assert lines(tmp_path / "j.jsonl.1")[-1] == {"event": "done"}


def test_done_journal_of_the_same_plan_is_set_aside_too(tmp_path: Path) -> None:
    # Running a finished rollout's command again is a new rollout, not a resume of nothing.
    path = tmp_path / "j.jsonl"
    first = Journal.open(path, "sha256:same")
    first.append({"event": "applied", "stack": "a", "seconds": 1.0})
    first.append({"event": "done"})
    first.close()
    again = Journal.open(path, "sha256:same")
    assert (again.resumed, again.state.applied) == (False, set())
    again.close()
    assert lines(tmp_path / "j.jsonl.1")[-1] == {"event": "done"}

"""The host suites' helpers that read what a service reports (tests/hosts/helpers.py)."""

from __future__ import annotations

import pytest

from tests.hosts.helpers import prometheus_duration_days


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("180d", 180),  # the standard before: not a whole number of weeks or years
        ("1y", 365),  # 365d as Prometheus prints it
        ("2y", 730),
        ("2w", 14),
        ("52w1d", 365),
        ("1y1d", 366),
        ("36h", 1.5),
        ("90m", 90 / 1440),
        ("1d12h", 1.5),
    ],
)
def test_prometheus_durations_are_read_in_days(text: str, days: float) -> None:
    assert prometheus_duration_days(text) == pytest.approx(days)


@pytest.mark.parametrize("text", ["", "365", "d", "1y ", "1.5d", "-1d", "1x", "1d foo"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        prometheus_duration_days(text)

from __future__ import annotations

import io

from infra.fleet.progress import Progress


def test_progress_line_counts_and_eta() -> None:
    stream = io.StringIO()
    progress = Progress(10, 2, stream=stream, interval=3600)
    assert progress.eta() is None
    progress.applied(4.0)
    progress.applied(2.0)
    progress.failed, progress.blocked, progress.running = 1, 1, 2
    progress.show()
    progress.show()
    progress.show(final=True)
    assert stream.getvalue().splitlines() == [
        "fleet: 2/10 done, 2 running, 1 failed, 1 blocked, ETA 9 s",
        "fleet: 2/10 done, 2 running, 1 failed, 1 blocked, ETA 9 s",
    ]


def test_eta_of_fewer_regions_than_the_cap_runs_them_at_once_not_the_cap() -> None:
    progress = Progress(3, 4, stream=io.StringIO())
    progress.applied(145.0)
    assert progress.eta() == 145.0  # two left, two at once, not four

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

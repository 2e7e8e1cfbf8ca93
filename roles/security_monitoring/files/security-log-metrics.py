#!/usr/bin/python3
"""Count security events in the region's central log store for Prometheus.

Installed by the security_monitoring role on the monitor and run by a systemd timer. The
store holds one directory per sending host (/var/log/remote/<host>/), each file written by
rsyslog with RSYSLOG_FileFormat, so every line starts with an RFC 3339 timestamp. For each
host and each configured event (a regular expression and a window in seconds) this counts
the matching lines of the window, and writes the counts, with the time each host last sent
a line, in Prometheus's text format to one file that node_exporter's textfile collector
exports. The file is replaced atomically, so node_exporter never reads half of it.

Usage: security-log-metrics CONFIG.json
CONFIG: {"log_dir", "log_files": [names], "output", "max_bytes",
         "events": [{"name", "help", "regex", "window_seconds", "files": [names]}]}
Files are read backwards from their end and only as far as the longest window of the
events counted in them (at most max_bytes each), so a short window costs little.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import tempfile
from pathlib import Path

PREFIX = "regionstack_security_log_"
# Lines reach the store roughly in time order; a sender that flushes its queue after an
# outage interleaves older ones. Reading stops only this far before every window.
REORDER_SLACK = datetime.timedelta(minutes=10)


def lines_backwards(path: Path, max_bytes: int, block: int = 1 << 20):
    """Yield the lines of a file newest first, reading at most max_bytes from its end."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        position = handle.seek(0, os.SEEK_END)
        limit = max(0, position - max_bytes)
        rest = b""
        while position > limit:
            size = min(block, position - limit)
            position -= size
            handle.seek(position)
            chunk = handle.read(size) + rest
            parts = chunk.split(b"\n")
            # The first part may be cut through the middle: keep it for the next block.
            rest = parts[0]
            for raw in reversed(parts[1:]):
                if raw:
                    yield raw.decode("utf-8", errors="replace")
        if position == 0 and rest:
            yield rest.decode("utf-8", errors="replace")


def line_time(line: str) -> datetime.datetime | None:
    """The timestamp that RSYSLOG_FileFormat puts first on a line, or None."""
    stamp, _, _ = line.partition(" ")
    try:
        parsed = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def count_file(path: Path, events: list, counts: dict, host: str, max_bytes: int) -> None:
    """Add the file's matching lines of each event's window, newest first, stopping at the
    first line older than every window (by more than the reordering slack)."""
    oldest = min(since for _, _, since in events)
    for line in lines_backwards(path, max_bytes):
        stamp = line_time(line)
        if stamp is None or stamp < oldest:
            if stamp is not None and stamp < oldest - REORDER_SLACK:
                return
            continue
        for event, pattern, since in events:
            if stamp >= since and pattern.search(line):
                counts[event["name"]][host] += 1


def escape(value: str) -> str:
    """Escape a label value for the Prometheus text format."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def scan(config: dict, now: datetime.datetime) -> list[str]:
    """Return the exposition lines for every host directory of the store."""
    events = [
        (
            event,
            re.compile(event["regex"]),
            now - datetime.timedelta(seconds=int(event["window_seconds"])),
        )
        for event in config["events"]
    ]
    counts: dict[str, dict[str, int]] = {event["name"]: {} for event, _, _ in events}
    last_seen: dict[str, float] = {}
    log_dir = Path(config["log_dir"])
    hosts = sorted(path for path in log_dir.iterdir() if path.is_dir()) if log_dir.is_dir() else []
    for host_dir in hosts:
        host = host_dir.name
        for counter in counts.values():
            counter[host] = 0
        for name in config["log_files"]:
            # The current file, then the generation logrotate left uncompressed (delaycompress).
            for path in (host_dir / name, host_dir / f"{name}.1"):
                if not path.is_file():
                    continue
                last_seen[host] = max(last_seen.get(host, 0.0), path.stat().st_mtime)
                mine = [(e, p, since) for e, p, since in events if name in e["files"]]
                if mine:
                    count_file(path, mine, counts, host, int(config["max_bytes"]))

    out = []
    for event, _, _ in events:
        metric = PREFIX + event["name"]
        out.append(
            f"# HELP {metric} {event['help']} (last {int(event['window_seconds'])} s, per sending host)."
        )
        out.append(f"# TYPE {metric} gauge")
        for host, value in sorted(counts[event["name"]].items()):
            out.append(f'{metric}{{source_host="{escape(host)}"}} {value}')
    metric = PREFIX + "last_received_timestamp_seconds"
    out.append(f"# HELP {metric} When the central log store last received a line from the host.")
    out.append(f"# TYPE {metric} gauge")
    for host, seen in sorted(last_seen.items()):
        out.append(f'{metric}{{source_host="{escape(host)}"}} {seen:.3f}')
    metric = PREFIX + "scan_timestamp_seconds"
    out.append(f"# HELP {metric} When the security log counter last scanned the central log store.")
    out.append(f"# TYPE {metric} gauge")
    out.append(f"{metric} {now.timestamp():.3f}")
    return out


def write_atomically(path: Path, lines: list[str]) -> None:
    """Replace path with lines; node_exporter reads only *.prom, so the temporary file is unseen."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    config = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    now = datetime.datetime.now(datetime.UTC)
    write_atomically(Path(config["output"]), scan(config, now))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

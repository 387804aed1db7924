"""The control loop's log in MCAP (readable by Foxglove and the other tools that read MCAP):
every measurement, the controller's command and the command written after the safety layer,
the tick's timing, and every event (lifecycle, safety, why the loop ended).

Topics, JSON messages (JSON Schema), log time = wall clock (ns):

- ``/measurements``: ``{"tick", "time_s", "fresh", <each measurement by name: list>}``;
- ``/command``: ``{"tick", "raw_nm": [...], "written_nm": [...]}``;
- ``/timing``: ``{"tick", "latency_us", "late_us"}``;
- ``/events``: ``{"kind", "detail"}``.

Messages go through a queue to a writer thread (the loop never waits on the disk) that writes
them unchunked and flushes the file at least every ``FLUSH_S``: a process killed with
``kill -9`` leaves a file readable up to at most about ``FLUSH_S`` (plus the queue's
lag) before the kill; :func:`read_log` reads such a file (no footer) up to its last complete
record.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

#: Longest time between flushes of the log file (s).
FLUSH_S = 0.05

TOPICS = ("/measurements", "/command", "/timing", "/events")
_SCHEMA = json.dumps({"type": "object"}).encode()


class LoopLog:
    """An MCAP log being written; ``put(topic, message)`` from the loop, ``close()`` at the end."""

    def __init__(self, path: str | Path, flush_s: float = FLUSH_S) -> None:
        from mcap.writer import CompressionType, Writer

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        self._writer = Writer(self._file, use_chunking=False, compression=CompressionType.NONE)
        self._writer.start(profile="", library="gaitsim")
        schema = self._writer.register_schema("gaitsim.Json", "jsonschema", _SCHEMA)
        self._channels = {t: self._writer.register_channel(t, "json", schema) for t in TOPICS}
        self._file.flush()
        self._flush_s = flush_s
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="mcap-log", daemon=True)
        self._thread.start()

    def put(self, topic: str, message: dict[str, Any]) -> None:
        self._queue.put((topic, time.time_ns(), message))

    def event(self, kind: str, detail: str = "") -> None:
        self.put("/events", {"kind": kind, "detail": detail})

    def _drain(self) -> None:
        last_flush = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self._flush_s / 2)
            except queue.Empty:
                item = None
            if item is _CLOSE:
                break
            if item is not None:
                topic, stamp, message = item
                data = json.dumps(message, allow_nan=True).encode()
                self._writer.add_message(self._channels[topic], stamp, data, stamp)
            if time.monotonic() - last_flush >= self._flush_s:
                self._file.flush()
                last_flush = time.monotonic()
        self._file.flush()

    def close(self) -> None:
        self._queue.put(_CLOSE)
        self._thread.join()
        self._writer.finish()
        self._file.close()


_CLOSE = object()


def read_log(path: str | Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Topic -> [(log time ns, message)] of an MCAP log, also of one cut short (a killed
    process): read up to the last complete record."""
    from mcap.records import Channel, Message
    from mcap.stream_reader import StreamReader

    out: dict[str, list[tuple[int, dict[str, Any]]]] = {t: [] for t in TOPICS}
    topics: dict[int, str] = {}
    with open(path, "rb") as f:
        try:
            for record in StreamReader(f).records:
                if isinstance(record, Channel):
                    topics[record.id] = record.topic
                elif isinstance(record, Message):
                    topic = topics.get(record.channel_id)
                    if topic is not None:
                        out.setdefault(topic, []).append((record.log_time, json.loads(record.data)))
        except Exception:  # noqa: BLE001 (a truncated last record ends the readable part)
            pass
    return out

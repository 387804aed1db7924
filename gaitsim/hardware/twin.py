"""The twin: the simulated patient and robot as a separate process, reached over UDP like a
robot, with a small versioned binary protocol.

A packet (little-endian) is a header, a payload of float32 values and a tag:

======  =====  ===========================================================================
bytes   type   field
======  =====  ===========================================================================
0-3     4s     magic ``b"GSTW"``
4       u8     protocol version (``VERSION``)
5       u8     kind: 1 hello (the controller asks for the first measurement), 2
               measurement (twin -> controller), 3 command (torques, N m), 4 bye
6-7     u16    number of float32 values
8-15    u64    sequence number (per sender, strictly increasing)
16-23   u64    sender's wall-clock time (ns since the epoch)
24-     f32[]  values: a measurement in the device layout, then its simulated time (s)
-16     16s    HMAC-SHA256 of everything before, with the shared key, first 16 bytes
======  =====  ===========================================================================

A receiver (:class:`Endpoint`) rejects and counts: ``malformed`` (size, magic, version or
kind wrong), ``unauthenticated`` (tag wrong: not our key), ``replayed`` (sequence number not
above the last accepted one: duplicates, replays, reordering; a sender's numbers start at its
wall clock's nanoseconds, so a restarted sender's are new) and ``stale``
(older than ``max_age_s`` by the receiver's clock; sender and receiver share a clock on one
host, between hosts they must be synchronised). The server answers each command by applying
it, advancing the simulation one device tick and sending the next measurement (lockstep: the
twin runs as fast as it is driven, and waits when the controller does); the controller's
side (:class:`TwinAdapter`) does not wait for the answer, so twin and controller run on two
cores at once. It binds to loopback unless told otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import select
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gaitsim.hardware.interface import HardwareError, Layout, Reading
from gaitsim.hardware.safety import SafetyLimits

if TYPE_CHECKING:
    from gaitsim.spec import Scenario

MAGIC = b"GSTW"
VERSION = 1
HELLO, MEASUREMENT, COMMAND, BYE = 1, 2, 3, 4
_HEADER = struct.Struct("<4sBBHQQ")
TAG_BYTES = 16
#: Packets older than this by the receiver's clock are stale (s).
MAX_AGE_S = 0.05
DEFAULT_PORT = 47800
#: Environment variable holding the shared key (hex or text) when none is given.
KEY_ENV = "GAITSIM_TWIN_KEY"


def key_from(value: str | bytes | None) -> bytes:
    """The shared key: ``value``, else ``$GAITSIM_TWIN_KEY``; at least 16 bytes."""
    key = value if value is not None else os.environ.get(KEY_ENV)
    if key is None:
        raise ValueError(f"no twin key: give one or set {KEY_ENV} (at least 16 bytes)")
    data = key.encode() if isinstance(key, str) else bytes(key)
    if len(data) < 16:
        raise ValueError(f"twin key: {len(data)} bytes; at least 16 are needed")
    return data


def encode(
    kind: int, seq: int, values: np.ndarray, key: bytes, time_ns: int | None = None
) -> bytes:
    """One packet."""
    values = np.asarray(values, "<f4").reshape(-1)
    stamp = time.time_ns() if time_ns is None else time_ns
    body = _HEADER.pack(MAGIC, VERSION, kind, len(values), seq, stamp) + values.tobytes()
    return body + hmac.new(key, body, hashlib.sha256).digest()[:TAG_BYTES]


@dataclass(frozen=True)
class Packet:
    kind: int
    seq: int
    time_ns: int
    values: np.ndarray


class Endpoint:
    """A UDP socket speaking the protocol: sends with its own sequence numbers, accepts only
    authentic, fresh, in-order packets, and counts what it rejects (``rejected``)."""

    def __init__(
        self,
        key: bytes,
        bind: tuple[str, int] = ("127.0.0.1", 0),
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        self.key, self.max_age_ns = key, int(max_age_s * 1e9)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.address = self.sock.getsockname()
        self.rejected: Counter = Counter()
        # sequence numbers start at the wall clock's ns: a restarted sender's are above its
        # last run's, so one counter per receiver tells replays from new packets
        self._seq = time.time_ns()
        self._last_seq = 0

    def send(self, kind: int, values: np.ndarray, to: tuple[str, int]) -> None:
        self._seq += 1
        self.sock.sendto(encode(kind, self._seq, values, self.key), to)

    def receive(self, timeout_s: float) -> tuple[Packet, tuple[str, int]] | None:
        """The next accepted packet and its sender within ``timeout_s``, else None."""
        deadline = time.perf_counter() + timeout_s
        while True:
            left = max(deadline - time.perf_counter(), 0.0)  # 0: a poll of what is waiting
            if not select.select([self.sock], [], [], left)[0]:
                return None
            data, sender = self.sock.recvfrom(65536)
            packet = self._check(data, sender)
            if packet is not None:
                return packet, sender

    def _check(self, data: bytes, sender: tuple[str, int]) -> Packet | None:
        if len(data) < _HEADER.size + TAG_BYTES:
            self.rejected["malformed"] += 1
            return None
        magic, version, kind, n, seq, stamp = _HEADER.unpack_from(data)
        if (
            magic != MAGIC
            or version != VERSION
            or kind not in (HELLO, MEASUREMENT, COMMAND, BYE)
            or len(data) != _HEADER.size + 4 * n + TAG_BYTES
        ):
            self.rejected["malformed"] += 1
            return None
        body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
        if not hmac.compare_digest(
            hmac.new(self.key, body, hashlib.sha256).digest()[:TAG_BYTES], tag
        ):
            self.rejected["unauthenticated"] += 1
            return None
        if seq <= self._last_seq:
            self.rejected["replayed"] += 1
            return None
        if time.time_ns() - stamp > self.max_age_ns:
            self.rejected["stale"] += 1
            return None
        self._last_seq = seq
        values = np.frombuffer(data, "<f4", count=n, offset=_HEADER.size).copy()
        return Packet(kind, seq, stamp, values)

    def close(self) -> None:
        self.sock.close()


def serve(
    scenario: Scenario,
    key: bytes,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    seed: int | None = None,
    idle_timeout_s: float = 5.0,
    ready: Callable[[tuple[str, int]], Any] | None = None,
) -> Counter:
    """Run the twin until a bye, the simulation's end, or ``idle_timeout_s`` without a
    packet; ``ready`` is called with the bound address; returns the rejection counts."""
    from gaitsim.hardware.interface import SimAdapter

    adapter = SimAdapter(scenario, seed)
    adapter.configure()
    endpoint = Endpoint(key, (host, port))
    if ready is not None:
        ready(endpoint.address)
    size = adapter.device.device.size
    try:
        while True:
            got = endpoint.receive(idle_timeout_s)
            if got is None:
                break
            packet, sender = got
            if packet.kind == BYE:
                break
            if packet.kind == COMMAND:
                if len(packet.values) != size:
                    endpoint.rejected["malformed"] += 1
                    continue
                try:
                    adapter.write(packet.values.astype(float))
                except HardwareError:
                    break
            elif packet.kind != HELLO:
                continue
            reading = adapter.read()
            endpoint.send(MEASUREMENT, np.append(reading.packed, reading.time_s), sender)
            if adapter.ended is not None:
                break
    finally:
        adapter.deactivate()
        adapter.close()
        endpoint.close()
    return endpoint.rejected


class TwinAdapter:
    """The controller's side: a hardware interface to a twin server, exactly as to a robot.
    ``layout`` and ``limits`` are the device's (from the scenario, as a robot's configuration
    file would give them). ``write()`` sends the command and returns at once; ``read()``
    takes the newest measurement that has arrived since the last read (fresh) or repeats the
    last one (not fresh: the safety layer's watchdog counts it), so the twin simulates on its
    own core while the controller runs, as a robot's drives do. No measurement for
    ``lost_after_s`` after a command is a hardware error (the twin answers commands only).
    With ``lockstep``, ``write()`` waits for the answer, so every read is fresh whatever the
    timing: runs are deterministic (tests, replays)."""

    def __init__(
        self,
        layout: Layout,
        limits: SafetyLimits,
        rate_hz: float,
        key: bytes,
        server: tuple[str, int] = ("127.0.0.1", DEFAULT_PORT),
        lost_after_s: float = 0.5,
        connect_timeout_s: float = 2.0,
        lockstep: bool = False,
    ) -> None:
        self.layout, self.limits, self.rate_hz = layout, limits, rate_hz
        self.lockstep = lockstep
        self.key, self.server = key, server
        self.lost_after_s, self.connect_timeout_s = lost_after_s, connect_timeout_s
        self._n = sum(size for _, size in layout)
        self.endpoint: Endpoint | None = None
        self._rejected: Counter = Counter()  # the endpoint's counts, kept after close
        self._latest: Reading | None = None
        self._new = False
        self._waiting_since: float | None = None  # the first command not yet answered

    def configure(self) -> None:
        self.endpoint = Endpoint(self.key)
        self._rejected = self.endpoint.rejected
        self.endpoint.send(HELLO, np.zeros(0), self.server)
        self._take(self.connect_timeout_s)
        if self._latest is None:
            raise HardwareError(f"twin at {self.server[0]}:{self.server[1]}: no answer to hello")

    def activate(self) -> None:
        pass

    def _take(self, timeout_s: float) -> None:
        """Take every measurement waiting (the first within ``timeout_s``), keep the newest."""
        assert self.endpoint is not None
        while (got := self.endpoint.receive(timeout_s)) is not None:
            timeout_s = 0.0
            packet, _ = got
            if packet.kind != MEASUREMENT or len(packet.values) != self._n + 1:
                self.endpoint.rejected["malformed"] += 1
                continue
            values = packet.values
            self._latest = Reading(
                values[:-1].astype(np.float32), float(values[-1]), True, self.layout
            )
            self._new, self._waiting_since = True, None

    def read(self) -> Reading:
        self._take(0.0)
        if self._latest is None:
            raise HardwareError("no measurement yet: configure() first")
        if self._waiting_since is not None:
            silent = time.perf_counter() - self._waiting_since
            if silent > self.lost_after_s:
                raise HardwareError(f"twin lost: no measurement for {silent:.2f} s")
        reading = (
            self._latest
            if self._new
            else Reading(self._latest.packed, self._latest.time_s, False, self.layout)
        )
        self._new = False
        return reading

    def write(self, torque_nm: np.ndarray) -> None:
        assert self.endpoint is not None
        self.endpoint.send(COMMAND, np.asarray(torque_nm, float), self.server)
        if self._waiting_since is None:
            self._waiting_since = time.perf_counter()
        if self.lockstep:  # wait for the answer: deterministic, for hardware-in-the-loop tests
            self._take(self.lost_after_s)

    def deactivate(self) -> None:
        if self.endpoint is not None:
            size = len(self.limits.torque_nm)
            self.endpoint.send(COMMAND, np.zeros(size), self.server)

    def counters(self) -> dict[str, int]:
        """The measurement packets rejected so far, by reason (``rejected_replayed``, ...)."""
        return {f"rejected_{k}": v for k, v in sorted(self._rejected.items())}

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.send(BYE, np.zeros(0), self.server)
            self.endpoint.close()
            self.endpoint = None

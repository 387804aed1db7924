"""The hardware path: the MIT-mode codec (property tests), the motor emulator driven over
python-can's virtual bus, and the safety layer's guarantees (property tests)."""

from __future__ import annotations

import math
import time
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaitsim.hardware import safety as S
from gaitsim.hardware.mit import (
    MIT_RANGES,
    MitCommand,
    MitReply,
    pack_command,
    pack_reply,
    unpack_command,
    unpack_reply,
)

FIELDS = ("position", "velocity", "kp", "kd", "torque")


@st.composite
def command_in_range(draw):
    name = draw(st.sampled_from(sorted(MIT_RANGES)))
    ranges = MIT_RANGES[name]
    values = [draw(st.floats(*ranges.range_of(f))) for f in FIELDS]
    return ranges, MitCommand(*values)


@settings(max_examples=500, deadline=None)
@given(command_in_range())
def test_every_command_field_round_trips_within_one_quantisation_step(case) -> None:
    ranges, command = case
    data = pack_command(command, ranges)
    assert len(data) == 8
    back = unpack_command(data, ranges)
    for field, sent, got in zip(FIELDS, vars(command).values(), vars(back).values(), strict=True):
        assert abs(got - sent) <= ranges.step(field) * 0.5 + 1e-9, field


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(MIT_RANGES)),
    st.integers(0, 255),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(-40, 200),
    st.integers(0, 255),
)
def test_every_reply_field_round_trips(name, motor_id, p, v, t, temperature, error) -> None:
    r = MIT_RANGES[name]
    lerp = [
        lo + u * (hi - lo)
        for u, (lo, hi) in ((p, r.position_rad), (v, r.velocity_rad_s), (t, r.torque_nm))
    ]
    reply = MitReply(motor_id, *lerp, float(temperature), error)
    back = unpack_reply(pack_reply(reply, r), r)
    assert (back.motor_id, back.temperature_c, back.error) == (motor_id, temperature, error)
    for field, sent, got in zip(
        ("position", "velocity", "torque"),
        lerp,
        (back.position_rad, back.velocity_rad_s, back.torque_nm),
        strict=True,
    ):
        assert abs(got - sent) <= r.step(field) * 0.5 + 1e-9
    short = unpack_reply(pack_reply(MitReply(motor_id, *lerp), r), r)
    assert short.temperature_c is None  # the 6-byte reply of Katz's firmware


def test_out_of_range_values_clamp_to_the_range_ends() -> None:
    r = MIT_RANGES["ak80-9"]
    back = unpack_command(pack_command(MitCommand(99.0, -99.0, 1e6, -1.0, 1e9), r), r)
    assert (back.position_rad, back.velocity_rad_s, back.kp, back.kd, back.torque_nm) == (
        12.5,
        -50.0,
        500.0,
        0.0,
        18.0,
    )
    with pytest.raises(ValueError, match="8 data bytes"):
        unpack_command(b"\x00" * 7, r)


def test_the_emulator_follows_the_protocol_on_the_virtual_bus() -> None:
    """Enter motor mode, zero, a torque command spins the rotor up, a position command with
    Kp and Kd holds it near the set-point, exit gives zero torque."""
    pytest.importorskip("can")
    from gaitsim.hardware.can_motors import MitBus, MotorTimeout
    from gaitsim.hardware.emulator import MotorEmulator

    ranges = MIT_RANGES["ak80-9"]
    channel = f"test-{uuid.uuid4().hex}"
    with MotorEmulator({1: ranges, 2: ranges}, channel=channel) as emulator:
        bus = MitBus({1: ranges, 2: ranges, 3: ranges}, channel=channel)
        try:
            assert bus.enter(1).motor_id == 1 and emulator.motors[1].enabled
            assert not emulator.motors[2].enabled
            bus.zero(1)
            for _ in range(50):
                reply = bus.command(1, MitCommand(torque_nm=2.0))
                time.sleep(0.001)
            assert reply.velocity_rad_s > 0.5 and abs(reply.torque_nm - 2.0) < ranges.step("torque")
            for _ in range(400):
                reply = bus.command(1, MitCommand(position_rad=1.0, kp=20.0, kd=1.0))
                time.sleep(0.001)
            assert abs(reply.position_rad - 1.0) < 0.05
            bus.exit(1)
            assert bus.command(1, MitCommand(torque_nm=5.0)).torque_nm == pytest.approx(
                0.0, abs=ranges.step("torque")
            )
            with pytest.raises(MotorTimeout, match="motor 3: no reply"):
                bus.command(3, MitCommand())
            with pytest.raises(KeyError, match="motor 9"):
                bus.command(9, MitCommand())
        finally:
            bus.close()


# --- the safety layer ------------------------------------------------------------------------

LIMITS = S.SafetyLimits(
    torque_nm=np.array([18.0, 10.0]),
    torque_rate_nm_s=np.array([900.0, 500.0]),
    velocity_rad_s=np.array([25.6, 12.0]),
    position_min_rad=np.array([-0.5, -0.3]),
    position_max_rad=np.array([1.2, 1.8]),
    tick_s=0.001,
)
anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e300, 1e300),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0]),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(anything, anything, st.floats(-3, 3), st.floats(-40, 40), st.booleans()),
        min_size=1,
        max_size=30,
    ),
)
def test_no_command_that_leaves_the_filter_exceeds_a_limit(ticks) -> None:
    state = S.initial_state(LIMITS)
    step = LIMITS.torque_rate_nm_s * LIMITS.tick_s
    for c0, c1, q, v, fresh in ticks:
        previous = state.previous_nm
        q_, v_ = np.array([q, -q]), np.array([v, -v])
        state, out, _ = S.filter_command(LIMITS, state, [c0, c1], q_, v_, fresh)
        assert out.shape == (2,) and np.all(np.isfinite(out))
        assert np.all(np.abs(out) <= LIMITS.torque_nm)
        towards_zero = (np.abs(out) <= np.abs(previous)) & (out * previous >= 0)
        assert np.all(towards_zero | (np.abs(out - previous) <= step + 1e-9))
        assert not np.any((np.abs(v_) > LIMITS.velocity_rad_s) & (out * v_ > 0))
        assert not np.any((q_ > LIMITS.position_max_rad) & (out > 0))
        assert not np.any((q_ < LIMITS.position_min_rad) & (out < 0))
        if not all(math.isfinite(c) for c in (c0, c1)):
            assert state.stopped is not None  # a non-finite command latches a stop


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 20), st.floats(-18, 18))
def test_stale_sensors_give_zero_torque_within_two_periods(fresh_ticks, command) -> None:
    state = S.initial_state(LIMITS)
    for _ in range(fresh_ticks):
        state, out, _ = S.filter_command(LIMITS, state, [command, 0.0], [0, 0], [0, 0], True)
    for k in range(1, 4):
        state, out, events = S.filter_command(LIMITS, state, [command, 0.0], [0, 0], [0, 0], False)
        if k >= LIMITS.stale_periods:
            assert np.all(out == 0.0) and any(e.kind == "watchdog" for e in events)
    state, out, _ = S.filter_command(LIMITS, state, [0.5, 0.0], [0, 0], [0, 0], True)
    assert out[0] == 0.5  # not latched: fresh data lifts it


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=1, max_size=20))
def test_emergency_stop_latches_until_rearmed(commands) -> None:
    state = S.emergency_stop(S.initial_state(LIMITS), "button")
    for c in commands:
        state, out, _ = S.filter_command(LIMITS, state, c, [0, 0], [0, 0], True)
        assert np.all(out == 0.0) and state.stopped == "button"
    state = S.rearm(state)
    state, out, _ = S.filter_command(LIMITS, state, [0.2, 0.0], [0, 0], [0, 0], True)
    assert out[0] == 0.2 and state.stopped is None


def test_a_configuration_can_only_tighten_the_device_limits() -> None:
    tighter = LIMITS.tightened(torque_nm=[30.0, 5.0], position_min_rad=[-2.0, 0.0])
    np.testing.assert_array_equal(tighter.torque_nm, [18.0, 5.0])
    np.testing.assert_array_equal(tighter.position_min_rad, [-0.5, 0.0])
    with pytest.raises(ValueError, match="not a limit"):
        LIMITS.tightened(tick_s=1.0)
    with pytest.raises(ValueError, match="torque_nm: need 2 finite values"):
        S.SafetyLimits([1.0, math.nan], [1, 1], [1, 1], [0, 0], [1, 1], 0.001)


# --- the control loop on the in-process simulation -------------------------------------------


def _hip_scenario(duration_s: float = 3.0):
    from gaitsim import spec
    from gaitsim.catalogue import resolve_scenario

    d = spec.to_dict(spec.load(resolve_scenario("exo-hip-moderate-left")))
    d["run"]["duration_s"] = duration_s
    return spec.from_dict(d)


def _scenario_controller(adapter):
    from gaitsim.sim.device import device_loop

    return device_loop(adapter.scenario, adapter.sim.built, adapter.sim.index)


def test_the_hardware_loop_on_the_sim_adapter_gives_gaitsim_runs_commands() -> None:
    """The scenario's controller file (hip-flexion-profile) through the loop, read -> step ->
    safety -> write, commands what `gaitsim run` records, tick by tick, bit for bit."""
    from gaitsim.hardware.interface import SimAdapter
    from gaitsim.hardware.loop import run_loop
    from gaitsim.sim.simulation import simulate

    scenario = _hip_scenario(6.0)
    recorded = np.asarray(simulate(scenario, seed=3)["device_left_hip_command_nm"])
    result = run_loop(SimAdapter(scenario, seed=3), _scenario_controller, ticks=1200, record=True)
    assert result.reason == "completed" and result.ticks == 1200
    commands = np.array(result.commands)[:, 0]
    np.testing.assert_array_equal(commands, recorded[:1200])
    assert np.abs(commands).max() > 10.0  # the assist did act (it ramps in over strides)
    np.testing.assert_array_equal(np.array(result.written)[:, 0], commands)  # within limits
    assert result.latency_us["p50"] > 0


class _Raising:
    """A controller whose step raises at tick ``at``."""

    def __init__(self, loop, at: int) -> None:
        self._loop, self._at, self.calls = loop, at, -3  # three warm-up steps first
        self.state0, self.rate_hz = loop.state0, loop.rate_hz

    def step(self, state, obs):
        self.calls += 1
        if self.calls == self._at:
            raise ZeroDivisionError("boom")
        return self._loop.step(state, obs)


def test_a_raising_controller_and_an_emergency_stop_end_in_zero_torque_and_deactivate(
    tmp_path,
) -> None:
    """Each ends in zero torque, deactivates, and the log's last event says why."""
    import threading

    from gaitsim.hardware.interface import SimAdapter
    from gaitsim.hardware.log import LoopLog
    from gaitsim.hardware.loop import run_loop

    calls: list[str] = []

    class Watched(SimAdapter):
        def write(self, torque_nm):
            calls.append(f"write {float(torque_nm[0]):.3f}")
            super().write(torque_nm)

        def deactivate(self):
            calls.append("deactivate")
            super().deactivate()

    scenario = _hip_scenario()
    log = LoopLog(tmp_path / "raising.mcap")
    result = run_loop(
        Watched(scenario, seed=3),
        lambda a: _Raising(_scenario_controller(a), at=150),
        ticks=600,
        log=log,
    )
    log.close()
    assert (result.reason, result.detail, result.ticks) == (
        "controller_error",
        "ZeroDivisionError: boom",
        150,
    )
    assert calls[-2:] == ["write 0.000", "deactivate"]
    assert _events(tmp_path / "raising.mcap")[-1] == (
        "end",
        "controller_error ZeroDivisionError: boom",
    )

    stop = threading.Event()
    calls.clear()
    log = LoopLog(tmp_path / "stop.mcap")
    result = run_loop(
        Watched(scenario, seed=3),
        _scenario_controller,
        ticks=600,
        on_tick=lambda k, r: stop.set() if k == 99 else None,
        stop=stop,
        log=log,
    )
    log.close()
    assert (result.reason, result.ticks) == ("emergency_stop", 101)
    assert calls[-2:] == ["write 0.000", "deactivate"]
    assert _events(tmp_path / "stop.mcap")[-1] == ("end", "emergency_stop")


def _events(path) -> list[tuple[str, str]]:
    """A loop log's events, (kind, detail), in order."""
    from gaitsim.hardware.log import read_log

    return [(m["kind"], m["detail"]) for _, m in read_log(path)["/events"]]


def test_a_fallen_simulated_patient_ends_the_loop_as_a_hardware_error() -> None:
    from gaitsim.hardware.interface import SimAdapter
    from gaitsim.hardware.loop import run_loop

    scenario = _hip_scenario(duration_s=0.5)  # the simulation ends after 100 ticks
    result = run_loop(SimAdapter(scenario, seed=3), _scenario_controller, ticks=300)
    assert result.reason == "hardware_error" and "ended" in result.detail
    assert result.ticks == 100


# --- the twin --------------------------------------------------------------------------------

KEY = b"0123456789abcdef-test-key"


def _gaitsim(*args: object) -> list[str]:
    """The command line of ``gaitsim ARGS`` in this interpreter."""
    import sys

    return [sys.executable, "-m", "gaitsim.cli", *map(str, args)]


def _start_twin(port: int, seed: int = 3):
    """A twin server process of the hip-exo scenario on loopback ``port``, ready."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "GAITSIM_TWIN_KEY": KEY.decode()}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gaitsim.cli",
            "twin",
            "serve",
            "exo-hip-moderate-left",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--idle-timeout",
            "30",  # a loop in another process may take seconds to start on a loaded machine
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "twin: exo-hip-moderate-left on 127.0.0.1" in server.stderr.readline()
    return server


@pytest.fixture()
def twin():
    """A twin server process of the hip-exo scenario: (address, process, scenario)."""
    import os

    port = 46000 + os.getpid() % 1000
    server = _start_twin(port)
    yield ("127.0.0.1", port), server, _hip_scenario(6.0)
    server.kill()
    server.wait()


def test_the_same_controller_through_the_twin_commands_what_gaitsim_run_records(twin) -> None:
    from gaitsim.hardware.interface import device_setup
    from gaitsim.hardware.loop import run_loop
    from gaitsim.hardware.twin import TwinAdapter
    from gaitsim.sim.simulation import simulate

    address, _, scenario = twin
    setup = device_setup(scenario)
    # lockstep: each write waits for its answer, so every reading is the twin's answer to
    # the previous command, as in the simulation (real time shares the cores with the twin)
    adapter = TwinAdapter(setup.layout, setup.limits, setup.rate_hz, KEY, address, lockstep=True)
    result = run_loop(adapter, lambda _: setup.controller(), ticks=1000, record=True)
    assert result.reason == "completed", result.detail
    assert all(result.fresh)
    recorded = np.asarray(simulate(scenario, seed=3)["device_left_hip_command_nm"])
    # float32 on the wire: the measurements round to single precision, as the sim's own are
    np.testing.assert_allclose(np.array(result.commands)[:, 0], recorded[:1000], atol=1e-4)


def test_the_twin_rejects_and_counts_bad_packets_and_answers_only_good_ones(twin) -> None:
    import socket
    import time as clock

    from gaitsim.hardware.twin import BYE, COMMAND, HELLO, MEASUREMENT, Endpoint, encode

    address, server, _ = twin
    me = Endpoint(KEY)
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        good = encode(HELLO, clock.time_ns(), np.zeros(0), KEY)
        bad = [
            b"short",
            b"XXXX" + good[4:],  # magic
            good[:4] + b"\x09" + good[5:],  # version
            encode(HELLO, clock.time_ns() + 1, np.zeros(0), b"another-key-16-bytes!"),
            encode(HELLO, clock.time_ns() + 2, np.zeros(0), KEY, time_ns=clock.time_ns() - 10**9),
        ]
        for packet in bad:
            raw.sendto(packet, address)
        assert me.receive(0.0) is None
        raw.sendto(good, address)
        raw.sendto(good, address)  # duplicated / replayed
        corrupted = bytearray(encode(COMMAND, clock.time_ns() + 5, np.zeros(1), KEY))
        corrupted[30] ^= 0xFF
        raw.sendto(bytes(corrupted), address)
        reader = Endpoint(KEY)
        replies = []
        while (got := _receive_raw(raw, 0.5)) is not None:
            replies.append(reader._check(got, address))  # checked on arrival (max age)
        assert len(replies) == 1  # the one good hello only
        assert replies[0] is not None and replies[0].kind == MEASUREMENT
        raw.sendto(encode(BYE, clock.time_ns(), np.zeros(0), KEY), address)
    finally:
        raw.close()
        me.close()
    server.wait(10)
    last = server.stderr.read().strip().splitlines()[-1]
    assert last == (
        "twin: stopped; rejected packets: malformed 3, replayed 1, stale 1, unauthenticated 2"
    )


def test_the_twin_listens_on_loopback_only(twin) -> None:
    """Unless told otherwise (--host), the twin's socket is bound to 127.0.0.1: the kernel's
    UDP table shows it there, and a good packet sent to another of the machine's addresses
    gets no answer."""
    import pathlib
    import socket
    import time as clock

    from gaitsim.hardware.twin import HELLO, encode

    (_, port), _, _ = twin
    table = pathlib.Path("/proc/net/udp")
    if table.exists():
        bound = [
            line.split()[1]
            for line in table.read_text().splitlines()[1:]
            if line.split()[1].endswith(f":{port:04X}")
        ]
        assert bound == [f"0100007F:{port:04X}"], bound  # 127.0.0.1, little-endian
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # no packet sent: picks the outward address
        outward = probe.getsockname()[0]
    except OSError:
        outward = "127.0.0.1"
    finally:
        probe.close()
    if outward.startswith("127."):
        pytest.skip("the machine has no address besides loopback")
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        raw.sendto(encode(HELLO, clock.time_ns(), np.zeros(0), KEY), (outward, port))
        assert _receive_raw(raw, 0.5) is None
    finally:
        raw.close()


def _receive_raw(sock, timeout_s: float):
    import select

    if not select.select([sock], [], [], timeout_s)[0]:
        return None
    return sock.recvfrom(65536)[0]


def test_a_killed_twin_ends_the_loop_safely_and_says_why(twin, tmp_path) -> None:
    """The twin process killed mid-run: reads go stale, the watchdog zeroes the torque, the
    loop ends as a hardware error naming the lost twin, and the log says so. The loop runs as
    ``gaitsim hw run`` runs it, in a process of its own: its real-time settings lock the
    process's memory, and locking this test process (every library of the suite loaded) kept
    the twin's first answers away for over 0.5 s in two full-suite runs."""
    import os
    import signal
    import subprocess
    import time as clock

    from gaitsim.hardware.log import read_log

    address, server, _ = twin
    log = tmp_path / "killed.mcap"
    loop = subprocess.Popen(
        _gaitsim("hw", "run", "exo-hip-moderate-left", "--adapter", "twin", "--port", address[1])
        + ["--duration", "10", "--log", str(log)],
        env={**os.environ, "GAITSIM_TWIN_KEY": KEY.decode()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen, deadline = 0, clock.time() + 60
        while seen < 300 and loop.poll() is None and clock.time() < deadline:
            clock.sleep(0.05)
            seen = len(read_log(log)["/command"]) if log.exists() else 0
        os.kill(server.pid, signal.SIGKILL)
        out, err = loop.communicate(timeout=60)
    finally:
        loop.kill()
        loop.wait()
    assert loop.returncode == 1 and "Traceback" not in err, err
    assert "ended: hardware_error twin lost: no measurement for 0.5" in out
    messages = read_log(log)
    events = [(m["kind"], m["detail"]) for _, m in messages["/events"]]
    # the end event is logged after the loop has deactivated and closed the adapter
    assert events[-1][0] == "end" and events[-1][1].startswith("hardware_error twin lost")
    assert ("watchdog", "joints [0] stale for 2 ticks") in events
    fresh = [m["fresh"] for _, m in messages["/measurements"]]
    written = np.array([m["written_nm"][0] for _, m in messages["/command"]])
    # the log is flushed every 50 ms (10 ticks): the kill came 0-10 ticks after those seen,
    # and the loop gave up 0.5 s (100 ticks) after the last answer
    assert 300 <= seen <= len(written) <= seen + 10 + 0.5 * 200 + 10
    # the last fresh measurement came at the kill; the first stale tick holds the last
    # torque, the second and every later one writes zero
    last = max(k for k, f in enumerate(fresh) if f)
    assert seen - 2 <= last <= seen + 12 and not any(fresh[last + 1 :])
    assert written[last + 1] == written[last] and np.all(written[last + 2 :] == 0.0)


# --- the log ---------------------------------------------------------------------------------


def _activated(log) -> bool:
    """Whether the loop logged its activation (a log cut short reads to its last record)."""
    from gaitsim.hardware.log import read_log

    if not log.exists():
        return False
    return any(m["kind"] == "activate" for _, m in read_log(log).get("/events", []))


def test_kill_9_leaves_a_log_readable_to_within_100_ms_of_the_kill(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time as clock

    from gaitsim.hardware.log import read_log

    log = tmp_path / "run.mcap"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gaitsim.cli",
            "hw",
            "run",
            "exo-hip-moderate-left",
            "--adapter",
            "sim",
            "--duration",
            "60",
            "--log",
            str(log),
        ],
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        # The header is on disk before the model is built and the controller compiled (seconds
        # on a loaded machine): count from the loop's activation, not from the first bytes.
        deadline = clock.time() + 60
        while clock.time() < deadline and not _activated(log):
            clock.sleep(0.05)
        clock.sleep(5.0)
        killed_ns = clock.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    messages = read_log(log)
    assert messages["/events"][0][1]["kind"] == "activate"
    ticks = messages["/command"]
    assert len(ticks) > 500  # ~5 s at 200 Hz
    assert [m["tick"] for _, m in ticks] == list(range(len(ticks)))  # none lost before the last
    last_ns = max(t for topic in messages.values() for t, _ in topic)
    assert killed_ns - last_ns < 100_000_000, f"{(killed_ns - last_ns) / 1e6:.0f} ms lost"


def test_replay_feeds_a_logged_session_through_a_controller_offline(tmp_path) -> None:
    import subprocess
    import sys

    log = tmp_path / "run.mcap"

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "gaitsim.cli", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
        )

    done = cli(
        "hw",
        "run",
        "exo-hip-moderate-left",
        "--duration",
        "6",
        "--as-fast-as-possible",
        "--log",
        log,
    )
    assert done.returncode == 0, done.stderr
    assert "1200 ticks" in done.stdout and "ended: completed" in done.stdout
    same = cli("replay", log, "exo-hip-moderate-left")
    assert same.returncode == 0 and same.stdout.startswith(
        "1200 ticks replayed; largest command difference 0 N m"
    ), same.stdout + same.stderr
    other = cli("replay", log, "exo-hip-moderate-left", "--controller", "zero-torque")
    assert "first difference > 1e-6 N m at tick" in other.stdout


def test_replay_drives_the_twin_with_a_recorded_session(twin, tmp_path) -> None:
    """A session recorded on the twin, its commands driven into a fresh twin of the same
    scenario and seed (gaitsim replay --twin): the twin gives back the recorded measurements
    exactly; a twin of another seed does not."""
    import os
    import subprocess
    import sys

    from gaitsim.hardware.interface import device_setup
    from gaitsim.hardware.log import LoopLog
    from gaitsim.hardware.loop import run_loop
    from gaitsim.hardware.twin import TwinAdapter

    address, _, scenario = twin
    setup = device_setup(scenario)
    log = LoopLog(tmp_path / "session.mcap")
    adapter = TwinAdapter(setup.layout, setup.limits, setup.rate_hz, KEY, address, lockstep=True)
    result = run_loop(adapter, lambda _: setup.controller(), ticks=600, record=True, log=log)
    log.close()
    assert result.reason == "completed" and np.abs(np.array(result.written)).max() > 0.5

    def replay_into(seed: int):
        port = 45000 + os.getpid() % 1000
        server = _start_twin(port, seed)
        try:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gaitsim.cli",
                    "replay",
                    str(tmp_path / "session.mcap"),
                    "exo-hip-moderate-left",
                    "--twin",
                    "--port",
                    str(port),
                    "--log",
                    str(tmp_path / f"driven-{seed}.mcap"),
                ],
                env={**os.environ, "GAITSIM_TWIN_KEY": KEY.decode()},
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            server.kill()
            server.wait()

    same = replay_into(3)
    assert same.returncode == 0, same.stdout + same.stderr
    line = same.stdout.strip()
    assert line.startswith("600 recorded commands driven into the twin at 127.0.0.1:"), line
    # the first reading (the answer to hello) and 599 answers to commands, all compared
    assert "; 600 measurements compared by simulated time; " in line, line
    assert "joint_angle_rad 0, " in line and "first difference" not in line, line
    assert line.endswith("; link: none; ended: completed"), line
    assert (tmp_path / "driven-3.mcap").is_file()
    other = replay_into(4)
    assert other.returncode == 0 and "first difference > 1e-6 at tick" in other.stdout, (
        other.stdout + other.stderr
    )


def test_the_can_adapter_drives_the_emulated_motor_through_the_safety_layer() -> None:
    """A controller asking for 100 N m: the motor gets the safety layer's ramp to the AK80-9's
    18 N m, the emulated rotor turns, and after the loop the driver is out of motor mode."""
    from gaitsim.hardware.can_adapter import CanAdapter
    from gaitsim.hardware.emulator import MotorEmulator
    from gaitsim.hardware.interface import device_setup
    from gaitsim.hardware.loop import run_loop

    setup = device_setup(_hip_scenario())
    ranges = MIT_RANGES["ak80-9"]
    channel = f"test-{uuid.uuid4().hex}"

    class Push:
        state0, rate_hz = np.zeros(1), setup.rate_hz

        def step(self, state, obs):
            return state, np.array([100.0])

    with MotorEmulator({7: ranges}, channel=channel) as emulator:
        adapter = CanAdapter(
            setup.layout, setup.limits, setup.rate_hz, [(7, ranges)], channel=channel
        )
        result = run_loop(adapter, lambda _: Push(), ticks=100, realtime=True, record=True)
        motor = emulator.motors[7]
        assert result.reason == "completed"
        written = np.array(result.written)[:, 0]
        step = setup.limits.torque_rate_nm_s[0] * setup.limits.tick_s
        np.testing.assert_allclose(written[:3], [step, 2 * step, 3 * step])
        assert written.max() == setup.limits.torque_nm[0] == 18.0
        assert result.safety["torque_limit"] == 100 and result.safety["rate_limit"] > 0
        assert motor.frames >= 100 + 3 and not motor.enabled
        assert motor.position_rad > 1.0  # it turned


def test_cli_hw_run_on_emulated_can_motors_prints_its_status_line() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gaitsim.cli",
            "hw",
            "run",
            "exo-hip-moderate-left",
            "--adapter",
            "can",
            "--motors",
            "1:ak80-9",
            "--emulate",
            "--duration",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line, settings = done.stdout.strip().splitlines()
    assert line.startswith("200 ticks at ") and "controller latency p50" in line
    assert "; missed " in line and line.endswith("; link: none; ended: completed")
    assert settings.startswith("real-time settings: ") and "gc_frozen" in settings


class _FaultyLink:
    """A UDP relay between the controller and the twin that drops, duplicates, corrupts and
    delays packets with the given probabilities (seeded), in both directions."""

    def __init__(
        self, server, drop=0.0, duplicate=0.0, corrupt=0.0, delay=0.0, delay_s=0.03, seed=0
    ):
        import random
        import socket
        import threading

        self.server, self.rng = server, random.Random(seed)
        self.p = {"drop": drop, "duplicate": duplicate, "corrupt": corrupt, "delay": delay}
        self.delay_s = delay_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address = self.sock.getsockname()
        self.client = None
        self.done = {k: 0 for k in self.p}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _send(self, data, to):
        import threading

        if self.rng.random() < self.p["drop"]:
            self.done["drop"] += 1
            return
        if self.rng.random() < self.p["corrupt"]:
            self.done["corrupt"] += 1
            data = bytearray(data)
            data[self.rng.randrange(len(data))] ^= 0x5A
            data = bytes(data)
        copies = 2 if self.rng.random() < self.p["duplicate"] else 1
        self.done["duplicate"] += copies - 1
        if self.rng.random() < self.p["delay"]:
            self.done["delay"] += 1
            for _ in range(copies):
                threading.Timer(self.delay_s, self._later, (data, to)).start()
            return
        for _ in range(copies):
            self.sock.sendto(data, to)

    def _later(self, data, to):
        import contextlib

        with contextlib.suppress(OSError):  # closed meanwhile
            self.sock.sendto(data, to)

    def _run(self):
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            if sender == tuple(self.server):
                if self.client is not None:
                    self._send(data, self.client)
            else:
                self.client = sender
                self._send(data, tuple(self.server))

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_dropped_delayed_duplicated_and_corrupted_packets_end_safely_and_are_logged(
    twin, tmp_path
) -> None:
    from gaitsim.hardware.interface import device_setup
    from gaitsim.hardware.log import LoopLog, read_log
    from gaitsim.hardware.loop import link_summary, run_loop
    from gaitsim.hardware.twin import TwinAdapter

    address, server, scenario = twin
    setup = device_setup(scenario)
    link = _FaultyLink(address, drop=0.05, duplicate=0.05, corrupt=0.05, delay=0.03, seed=1)
    log = LoopLog(tmp_path / "faults.mcap")
    adapter = TwinAdapter(
        setup.layout, setup.limits, setup.rate_hz, KEY, link.address, lost_after_s=0.3
    )
    try:
        result = run_loop(
            adapter, lambda _: setup.controller(), ticks=600, realtime=True, record=True, log=log
        )
    finally:
        log.close()
        link.close()
    assert all(v > 0 for v in link.done.values()), link.done
    written = np.array(result.written)
    assert np.all(np.abs(written) <= setup.limits.torque_nm)
    assert result.reason in ("completed", "hardware_error"), result.detail
    stale = [k for k, fresh in enumerate(result.fresh) if not fresh]
    assert stale  # the faults showed as stale readings ...
    for k in stale:  # ... and a second stale tick in a row always wrote zero torque
        if k - 1 in stale:
            assert np.all(written[k] == 0.0)
    events = [m for _, m in read_log(tmp_path / "faults.mcap")["/events"]]
    assert events[-1] == {"kind": "end", "detail": f"{result.reason} {result.detail}".strip()}
    assert any(e["kind"] == "watchdog" for e in events) == ("watchdog" in result.safety)
    # the loop's side rejected the twin's duplicated (replayed) and corrupted measurements,
    # and the log's link event before the end says how many of each
    assert result.link.get("rejected_replayed", 0) > 0
    assert (
        result.link.get("rejected_unauthenticated", 0) + result.link.get("rejected_malformed", 0)
        > 0
    )
    assert events[-2] == {"kind": "link", "detail": link_summary(result.link)}


def test_packets_delayed_past_the_limit_end_the_loop_as_a_lost_twin(twin, tmp_path) -> None:
    from gaitsim.hardware.interface import device_setup
    from gaitsim.hardware.log import LoopLog
    from gaitsim.hardware.loop import run_loop
    from gaitsim.hardware.twin import TwinAdapter

    address, _, scenario = twin
    setup = device_setup(scenario)
    link = _FaultyLink(address, delay_s=0.5)
    adapter = TwinAdapter(
        setup.layout, setup.limits, setup.rate_hz, KEY, link.address, lost_after_s=0.2
    )

    def slow_down(k, _result):  # from the first tick on, every packet is 0.5 s late
        link.p["delay"] = 1.0

    log = LoopLog(tmp_path / "late.mcap")
    try:
        result = run_loop(
            adapter,
            lambda _: setup.controller(),
            ticks=400,
            realtime=True,
            record=True,
            on_tick=slow_down,
            log=log,
        )
    finally:
        log.close()
        link.close()
    assert result.reason == "hardware_error" and "twin lost" in result.detail
    assert _events(tmp_path / "late.mcap")[-1] == ("end", f"hardware_error {result.detail}")
    written = np.array(result.written)[:, 0]
    last = max(k for k, fresh in enumerate(result.fresh) if fresh)
    assert last < 5 and np.all(written[last + 2 :] == 0.0) and result.ticks < 100
    assert adapter.endpoint is None  # a lost twin's adapter is closed all the same


def test_cli_hw_run_without_a_twin_says_so_and_exits_1() -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        _gaitsim(
            "hw", "run", "exo-hip-moderate-left", "--adapter", "twin", "--port", 9, "--duration", 1
        ),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GAITSIM_TWIN_KEY": KEY.decode()},
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout.strip().endswith(
        "ended: hardware_error configure: twin at 127.0.0.1:9: no answer to hello"
    )
    missing_key = subprocess.run(
        [
            sys.executable,
            "-m",
            "gaitsim.cli",
            "hw",
            "run",
            "exo-hip-moderate-left",
            "--adapter",
            "twin",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "GAITSIM_TWIN_KEY"},
    )
    assert missing_key.returncode == 2 and "GAITSIM_TWIN_KEY" in missing_key.stderr


def test_realtime_settings_are_undone_and_refusals_reported(monkeypatch, tmp_path):
    """The loop's real-time settings leave the thread as they found it; a setting the OS
    refuses is reported by name and the rest still apply."""
    import gc
    import os

    from gaitsim.hardware import realtime

    policy = os.sched_getscheduler(0)
    with realtime.realtime_thread() as applied:
        assert set(applied) == {"sched_fifo", "mlockall", "cpu_dma_latency_0", "gc_frozen"}
        assert applied["gc_frozen"] == "on" and gc.get_freeze_count() > 0
        if applied["sched_fifo"] == "on":
            assert os.sched_getscheduler(0) == os.SCHED_FIFO
    assert os.sched_getscheduler(0) == policy and gc.get_freeze_count() == 0

    def refuse(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    monkeypatch.setattr(realtime, "DMA_LATENCY_PATH", str(tmp_path / "missing"))
    with realtime.realtime_thread() as applied:
        assert applied["sched_fifo"].startswith("refused")
        assert applied["cpu_dma_latency_0"].startswith("refused")
        line = realtime.summary(applied)
        assert "not applied: sched_fifo, cpu_dma_latency_0" in line and "gc_frozen" in line
    assert gc.get_freeze_count() == 0


def test_the_same_controller_in_the_gymnasium_env_commands_what_gaitsim_run_records() -> None:
    """The scenario's controller file as the env's agent, on the env's device measurements:
    tick by tick the commands `gaitsim run` records (and, by the twin test above, what the
    loop commands through the twin)."""
    from gaitsim.env import load_env_config
    from gaitsim.env.controller import ControllerAgent
    from gaitsim.env.single import GaitEnv
    from gaitsim.sim.simulation import simulate

    # no clipping: the action range covers the motor's peak torque; the scenario's 200 Hz
    # device loop, as gaitsim run records it (the id's agent decides at 50 Hz)
    config = load_env_config("hip-exo-assist").model_copy(
        update={"action_scale_nm": 100.0, "episode_s": 6.0, "rate_hz": None}
    )
    env = GaitEnv(config)
    agent = ControllerAgent(env)
    obs, _ = env.reset(options={"run_seed": 3})
    commands = []
    for _ in range(1000):
        obs, _, terminated, truncated, _ = env.step(agent(obs))
        commands.append(agent.command[0])
        assert not (terminated or truncated)
    # the env's scenario is the hip scenario with its start perturbation from the env file
    scenario = env.episode.scenario
    assert scenario.device == _hip_scenario().device
    recorded = np.asarray(simulate(scenario, seed=3)["device_left_hip_command_nm"])
    assert np.abs(recorded[:1000]).max() > 3.0  # the assist acts (it ramps in over strides)
    np.testing.assert_allclose(commands, recorded[:1000], atol=1e-4)
    # a second episode starts the controller afresh: the same commands again
    obs, _ = env.reset(options={"run_seed": 3})
    again = []
    for _ in range(50):
        obs, *_ = env.step(agent(obs))
        again.append(agent.command[0])
    np.testing.assert_allclose(again, recorded[:50], atol=1e-4)

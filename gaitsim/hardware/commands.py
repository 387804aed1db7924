"""The hardware commands of ``gaitsim``: ``twin serve``, ``hw run``, ``replay``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gaitsim._cli_common import BadInput, check_out_dir, load_scenario, seed_option
from gaitsim.spec import Scenario, ScenarioError


def _with_device_rate(
    spec: Scenario, rate_hz: float | None, duration_s: float | None = None
) -> Scenario:
    """The scenario with its device at ``rate_hz`` and running ``duration_s`` (each when
    given; validated as a scenario file would be)."""
    if rate_hz is None and duration_s is None:
        return spec
    from gaitsim import spec as schema

    d = schema.to_dict(spec)
    if rate_hz is not None:
        d["device"]["rate_hz"] = rate_hz
    if duration_s is not None:
        d["run"]["duration_s"] = duration_s
    try:
        return schema.from_dict(d)
    except ScenarioError as exc:
        raise BadInput(f"--rate / --duration: {exc}") from None


_rate_option = click.option(
    "--rate",
    "rate_hz",
    type=click.FloatRange(1.0, 10_000.0),
    default=None,
    help="Device rate (Hz; default the scenario's device.rate_hz).",
)


@click.group("twin")
def twin_group() -> None:
    """The simulated patient and robot as a separate process, reached over UDP."""


@twin_group.command("serve")
@click.argument("scenario")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback unless told otherwise).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=47800, show_default=True)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Stop after this many seconds without a packet.",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(1.0, 86_400.0),
    default=3600.0,
    show_default=True,
    help="Longest simulated time the twin walks (it stops sooner when the patient falls).",
)
@_rate_option
@seed_option
def twin_serve_cmd(
    scenario: str,
    host: str,
    port: int,
    idle_timeout: float,
    duration_s: float,
    rate_hz: float | None,
    seed: int | None,
) -> None:
    """Serve SCENARIO's patient and device as a twin; the shared key comes from
    $GAITSIM_TWIN_KEY (at least 16 bytes)."""
    from gaitsim.hardware.twin import key_from, serve

    spec = _with_device_rate(load_scenario(scenario), rate_hz, duration_s)
    if spec.device.kind == "none":
        raise BadInput(f"{scenario}: device.kind = 'none': a twin needs a device")
    try:
        key = key_from(None)
    except ValueError as exc:
        raise BadInput(str(exc)) from None

    def ready(address: tuple[str, int]) -> None:
        click.echo(f"twin: {spec.name} on {address[0]}:{address[1]}", err=True)

    rejected = serve(spec, key, host, port, seed, idle_timeout, ready)
    click.echo(
        "twin: stopped; rejected packets: "
        + (", ".join(f"{k} {v}" for k, v in sorted(rejected.items())) or "none"),
        err=True,
    )


def _twin_address(f: Any) -> Any:
    """The ``--host`` and ``--port`` of a twin to connect to."""
    f = click.option("--port", type=click.IntRange(1, 65535), default=47800, show_default=True)(f)
    return click.option(
        "--host", default="127.0.0.1", show_default=True, help="The twin's address."
    )(f)


@click.group("hw")
def hw_group() -> None:
    """Run a device controller on a robot: the in-process simulation, the twin, or CAN."""


@hw_group.command("run")
@click.argument("scenario")
@click.option(
    "--adapter", type=click.Choice(["sim", "twin", "can"]), default="sim", show_default=True
)
@click.option(
    "--controller", default=None, help="Device-controller configuration (default: the scenario's)."
)
@click.option(
    "--duration", "duration_s", type=click.FloatRange(0.01, 3600), default=10.0, show_default=True
)
@click.option("--realtime/--as-fast-as-possible", default=True, show_default=True)
@_twin_address
@click.option(
    "--motors",
    default=None,
    help="CAN: driver ID and firmware ranges per module, in module order (e.g. 1:ak80-9).",
)
@click.option("--can-interface", default="socketcan", show_default=True)
@click.option("--can-channel", default="can0", show_default=True)
@click.option(
    "--emulate", is_flag=True, help="CAN: serve the motors with the emulator (virtual bus)."
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="MCAP log of every tick and event (flushed every 50 ms).",
)
@_rate_option
@seed_option
def hw_run_cmd(
    scenario: str,
    adapter: str,
    controller: str | None,
    duration_s: float,
    realtime: bool,
    host: str,
    port: int,
    motors: str | None,
    can_interface: str,
    can_channel: str,
    emulate: bool,
    log_path: Path | None,
    rate_hz: float | None,
    seed: int | None,
) -> None:
    """Run the controller at the device's rate through the safety layer on SCENARIO's device,
    then print the loop's status: rate, controller latency p50/p99, missed deadlines, safety
    events, why it ended."""
    from gaitsim.control.devices import ControllerConfigError
    from gaitsim.hardware.interface import SimAdapter, device_setup
    from gaitsim.hardware.loop import link_summary, run_loop
    from gaitsim.hardware.twin import TwinAdapter, key_from

    spec = _with_device_rate(load_scenario(scenario), rate_hz)
    if spec.device.kind == "none":
        raise BadInput(f"{scenario}: device.kind = 'none': nothing to drive")
    setup = device_setup(spec)
    try:
        loop = setup.controller(controller)
    except (ControllerConfigError, FileNotFoundError) as exc:
        raise BadInput(f"--controller: {exc}") from None
    emulator = None
    if adapter == "sim":
        robot: Any = SimAdapter(spec, seed)
    elif adapter == "can":
        from gaitsim.hardware.can_adapter import CanAdapter
        from gaitsim.hardware.mit import MIT_RANGES

        pairs = []
        for item in (motors or "").split(","):
            motor_id, _, model = item.strip().partition(":")
            if not motor_id.isdigit() or model not in MIT_RANGES:
                raise BadInput(
                    f"--motors {motors!r}: give ID:MODEL per module, MODEL one of "
                    + ", ".join(sorted(MIT_RANGES))
                )
            pairs.append((int(motor_id), MIT_RANGES[model]))
        if len(pairs) != len(setup.limits.torque_nm):
            raise BadInput(
                f"--motors: {len(pairs)} given, the device has "
                f"{len(setup.limits.torque_nm)} modules"
            )
        if emulate:
            from gaitsim.hardware.emulator import MotorEmulator

            can_interface, can_channel = "virtual", f"gaitsim-emulator-{os.getpid()}"
            emulator = MotorEmulator(dict(pairs), can_channel, can_interface).start()
        robot = CanAdapter(
            setup.layout, setup.limits, setup.rate_hz, pairs, can_channel, can_interface
        )
    else:
        try:
            key = key_from(None)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        robot = TwinAdapter(setup.layout, setup.limits, setup.rate_hz, key, (host, port))
    ticks = max(1, round(duration_s * setup.rate_hz))
    log = None
    if log_path is not None:
        from gaitsim.hardware.log import LoopLog

        check_out_dir(log_path.parent)
        log = LoopLog(log_path)
    try:
        result = run_loop(robot, lambda _: loop, ticks, realtime=realtime, log=log)
    finally:
        if log is not None:
            log.close()
        if emulator is not None:
            emulator.stop()
    took = result.active_s
    safety = ", ".join(f"{k} {v}" for k, v in sorted(result.safety.items())) or "none"
    click.echo(
        f"{result.ticks} ticks at {result.ticks / max(took, 1e-9):.0f} Hz (target "
        f"{setup.rate_hz:g}); controller latency p50 {result.latency_us['p50']:.0f} us, p99 "
        f"{result.latency_us['p99']:.0f} us; missed {result.missed}; safety events: {safety}; "
        f"link: {link_summary(result.link)}; ended: {result.reason} {result.detail}".rstrip()
    )
    if result.realtime:
        from gaitsim.hardware.realtime import summary

        click.echo(summary(result.realtime))
    if result.reason not in ("completed",):
        raise SystemExit(1)


@click.command("replay")
@click.argument("log_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scenario")
@click.option(
    "--controller", default=None, help="Device-controller configuration (default: the scenario's)."
)
@click.option(
    "--twin",
    "to_twin",
    is_flag=True,
    help="Drive the twin (gaitsim twin serve) with the session's commands instead.",
)
@_twin_address
@click.option(
    "--log",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="--twin: MCAP log of the driven session.",
)
def replay_cmd(
    log_path: Path,
    scenario: str,
    controller: str | None,
    to_twin: bool,
    host: str,
    port: int,
    out: Path | None,
) -> None:
    """Feed the measurements recorded in LOG_PATH (gaitsim hw run --log) through a controller
    for SCENARIO's device, offline, and compare its commands with the recorded ones; with
    --twin, drive the twin with the commands recorded in LOG_PATH, one per tick, and compare
    its measurements with the recorded ones at the same simulated time."""
    from gaitsim.control.devices import ControllerConfigError
    from gaitsim.hardware.interface import device_setup
    from gaitsim.hardware.replay import replay

    setup = device_setup(load_scenario(scenario))
    if to_twin:
        if controller is not None:
            raise BadInput("--controller: not with --twin (the session's commands drive it)")
        _replay_into_twin(log_path, setup, host, port, out)
        return
    try:
        loop = setup.controller(controller)
    except (ControllerConfigError, FileNotFoundError) as exc:
        raise BadInput(f"--controller: {exc}") from None
    try:
        result = replay(log_path, loop, setup.layout)
    except KeyError as exc:
        raise BadInput(f"{log_path}: a measurement is missing {exc} (another device?)") from None
    first = result["first_difference_tick"]
    click.echo(
        f"{result['ticks']} ticks replayed; largest command difference "
        f"{result['max_difference_nm']:.3g} N m"
        + ("" if first is None else f"; first difference > 1e-6 N m at tick {first}")
    )


def _replay_into_twin(log_path: Path, setup: Any, host: str, port: int, out: Path | None) -> None:
    """``gaitsim replay --twin``: the session's commands into the twin at ``host:port``, and
    the comparison's line; exit 1 when the loop did not complete."""
    from gaitsim.hardware.log import LoopLog
    from gaitsim.hardware.loop import link_summary
    from gaitsim.hardware.replay import drive
    from gaitsim.hardware.twin import TwinAdapter, key_from

    try:
        key = key_from(None)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    robot = TwinAdapter(setup.layout, setup.limits, setup.rate_hz, key, (host, port), lockstep=True)
    if out is not None:
        check_out_dir(out.parent)
    log = None if out is None else LoopLog(out)
    try:
        driven = drive(log_path, robot, log=log)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    except KeyError as exc:
        raise BadInput(f"{log_path}: a measurement is missing {exc} (another device?)") from None
    finally:
        if log is not None:
            log.close()
    diffs = ", ".join(f"{k} {v:.3g}" for k, v in driven["max_difference"].items())
    first = driven["first_difference_tick"]
    click.echo(
        f"{driven['commands']} recorded commands driven into the twin at {host}:{port}; "
        f"{driven['compared']} measurements compared by simulated time; largest "
        f"difference: {diffs}"
        + ("" if first is None else f"; first difference > 1e-6 at tick {first}")
        + f"; link: {link_summary(driven['link'])}; ended: {driven['reason']} "
        f"{driven['detail']}".rstrip()
    )
    if driven["reason"] != "completed":
        raise SystemExit(1)

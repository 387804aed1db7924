"""The hardware interface (after ros2_control's): a lifecycle and ``read()`` / ``write()``, the
same for the simulated robot, the twin over the network and CAN motors.

Lifecycle: ``configure()`` (connect, learn the layout and limits) -> ``activate()`` (motors
enabled) -> ticks of ``read()`` then ``write(torque)`` -> ``deactivate()`` (zero torque,
motors disabled; always called, also after an error) -> ``close()``. ``read()`` returns a
:class:`Reading`: the device's measurements by name, exactly the simulated device sensors'
(``gaitsim.sim.device``), packed in the device layout for the controller, with their time and
whether they are new since the last read (the safety layer's watchdog counts the ones that
are not). ``counters()`` tells what the link rejected or lost (logged when the loop ends).

:class:`SimAdapter` is the gaitsim simulation in-process (the hardware-in-the-loop
baseline): each ``write`` applies the torque and advances the simulation one device tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gaitsim.hardware.safety import SafetyLimits
from gaitsim.sim.device import device_limits
from gaitsim.sim.sensing import unpack

if TYPE_CHECKING:
    from gaitsim.sim.device import DeviceRunner
    from gaitsim.sim.simulation import Simulation
    from gaitsim.spec import Scenario

Layout = tuple[tuple[str, int], ...]


class HardwareError(RuntimeError):
    """The robot side failed (a lost connection, a fallen simulated patient); the loop ends
    in a safe state and logs why."""


@dataclass(frozen=True)
class Reading:
    """One read: ``packed`` measurements (float32, device layout), their time (s) and
    whether they are new."""

    packed: np.ndarray
    time_s: float
    fresh: bool
    layout: Layout

    @property
    def values(self) -> dict[str, np.ndarray]:
        """The measurements by name (``joint_angle_rad``, ``foot_load_n``, ...)."""
        return unpack(self.packed, self.layout)


class HardwareInterface(Protocol):
    """What the control loop drives."""

    layout: Layout
    limits: SafetyLimits
    rate_hz: float

    def configure(self) -> None: ...

    def activate(self) -> None: ...

    def read(self) -> Reading: ...

    def write(self, torque_nm: np.ndarray) -> None: ...

    def deactivate(self) -> None: ...

    def close(self) -> None: ...

    def counters(self) -> dict[str, int]:
        """What went wrong on the link so far, by kind (rejected packets by reason, motor
        timeouts); the loop logs it at the end and the status line shows it."""
        ...


@dataclass(frozen=True)
class DeviceSetup:
    """What the controller side knows of a scenario's device, as a robot's configuration
    would tell it: the measurement layout, the safety limits, the rate, and its controller
    compiled for the loop (``controller()``, the scenario's configuration or ``name``)."""

    scenario: Any
    built: Any
    index: Any
    layout: Layout
    limits: SafetyLimits
    rate_hz: float

    def controller(self, name: str | None = None) -> Any:
        from gaitsim.sim.device import device_loop

        return device_loop(self.scenario, self.built, self.index, name=name)


def device_setup(scenario: Scenario) -> DeviceSetup:
    """The :class:`DeviceSetup` of a scenario (its model built, nothing simulated)."""
    from gaitsim.model import build_scenario
    from gaitsim.sim.device import device_layout
    from gaitsim.sim.sensing import body_index

    built = build_scenario(scenario)
    if built.device is None:
        raise HardwareError("the scenario has no device (device.kind = 'none')")
    rate = float(scenario.device.rate_hz)
    n_emg = len(built.muscle_names) if scenario.device.sensing.emg else 0
    return DeviceSetup(
        scenario,
        built,
        body_index(built.model),
        device_layout(built.device.size, n_emg),
        device_limits(built.model, built.device, rate),
        rate,
    )


class SimAdapter:
    """The simulated patient and device of a scenario, stepped by the loop's writes. The
    simulated device has its own safety layer with the same limits (as every simulated
    device has, :class:`~gaitsim.hardware.safety.SimulatedSafety`): the loop's filter output
    passes it unchanged."""

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        self.scenario, self.seed = scenario, seed
        self.rate_hz = float(scenario.device.rate_hz)
        self.sim: Simulation | None = None
        self.device: DeviceRunner
        self.layout: Layout
        self.limits: SafetyLimits
        self.ended: str | None = None

    def configure(self) -> None:
        from gaitsim.sim.simulation import Simulation

        if self.scenario.device.kind == "none":
            raise HardwareError("the scenario has no device to drive (device.kind = 'none')")
        sim = Simulation(self.scenario, self.seed, external_device=True, record=False)
        device = sim.device
        if device is None:
            raise HardwareError(f"the device could not be built: {sim.end}")
        sim.warm_up()
        self.sim, self.device = sim, device
        self.layout = device.layout
        self.limits = device.safety.limits

    def activate(self) -> None:
        pass

    def read(self) -> Reading:
        assert self.sim is not None, "configure() first"
        packed = self.device.observe(self.sim.data)
        return Reading(packed, float(self.sim.data.time), True, self.layout)

    def write(self, torque_nm: np.ndarray) -> None:
        sim = self.sim
        assert sim is not None, "configure() first"
        if self.ended is not None or sim.done:
            raise HardwareError(f"the simulation has ended: {self.ended or sim.end}")
        self.device.act(sim.data, torque_nm)
        end = sim.advance(sim.device_every) or sim.check()
        if end is not None:
            self.ended = f"{end.reason} at {end.time_s:.3f} s {end.detail}".strip()

    def deactivate(self) -> None:
        if self.sim is not None:
            self.device.act(self.sim.data, np.zeros(self.device.device.size))

    def counters(self) -> dict[str, int]:
        return {}  # in-process: no link

    def close(self) -> None:
        self.sim = None

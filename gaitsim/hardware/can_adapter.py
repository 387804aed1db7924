"""The hardware interface for AK-series motors in MIT mode on a CAN bus: one motor per device
module, in the device's module order, each with its driver ID and firmware ranges.

- ``configure()``: open the bus and ask every driver for its state (an exit-motor-mode frame,
  which every driver answers without enabling it); a driver that does not answer fails it;
- ``activate()``: enter motor mode on every driver (zeroing is a calibration step of its own,
  :meth:`CanAdapter.set_zero`, never automatic);
- ``write(torque)``: a torque-only MIT command per driver (Kp = Kd = 0, velocity and position
  set-points 0) and its reply, which is the next ``read()``'s encoder angle, velocity and
  motor torque; fresh only when every driver answered;
- ``deactivate()``: zero torque, then exit motor mode, on every driver.

The motors measure only their own joints: the other signals of the device layout (insoles,
IMUs, EMG) come from ``other_sensors`` (a callable returning them by name), else are zeros, so
a controller that needs them must be given a source. Motor angles are taken as the joint
angles (the module's encoder is on its output, ``gaitsim.sim.device``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gaitsim.hardware.can_motors import MitBus, MotorTimeout
from gaitsim.hardware.interface import HardwareError, Layout, Reading
from gaitsim.hardware.mit import MitCommand, MitRanges
from gaitsim.hardware.safety import SafetyLimits


class CanAdapter:
    """``motors``: (driver ID, firmware ranges) per module, in the device's module order."""

    def __init__(
        self,
        layout: Layout,
        limits: SafetyLimits,
        rate_hz: float,
        motors: Sequence[tuple[int, MitRanges]],
        channel: str = "gaitsim",
        interface: str = "virtual",
        other_sensors: Callable[[], dict[str, Any]] | None = None,
        **bus_kwargs: Any,
    ) -> None:
        if len(motors) != len(limits.torque_nm):
            raise ValueError(f"{len(motors)} motors for {len(limits.torque_nm)} device modules")
        self.layout, self.limits, self.rate_hz = layout, limits, rate_hz
        self.motors = list(motors)
        self._bus_args = {"channel": channel, "interface": interface, **bus_kwargs}
        self._other = other_sensors
        self.bus: MitBus | None = None
        self._state = np.zeros((len(motors), 3))  # angle, velocity, torque
        self._fresh = False
        self._timeouts = 0  # commands without a reply in time

    def configure(self) -> None:
        self.bus = MitBus(dict(self.motors), **self._bus_args)
        for i, (motor_id, _) in enumerate(self.motors):
            try:
                reply = self.bus.exit(motor_id)
            except MotorTimeout as exc:
                raise HardwareError(str(exc)) from None
            self._state[i] = reply.position_rad, reply.velocity_rad_s, reply.torque_nm
        self._fresh = True

    def set_zero(self) -> None:
        """Make every motor's present position its zero (a calibration step)."""
        assert self.bus is not None, "configure() first"
        for motor_id, _ in self.motors:
            self.bus.zero(motor_id)

    def activate(self) -> None:
        assert self.bus is not None, "configure() first"
        for motor_id, _ in self.motors:
            try:
                self.bus.enter(motor_id)
            except MotorTimeout as exc:
                raise HardwareError(str(exc)) from None

    def read(self) -> Reading:
        values = {name: np.zeros(size, np.float32) for name, size in self.layout}
        if self._other is not None:
            for name, value in self._other().items():
                values[name] = np.asarray(value, np.float32)
        values["joint_angle_rad"] = self._state[:, 0].astype(np.float32)
        values["joint_velocity_rad_s"] = self._state[:, 1].astype(np.float32)
        values["motor_torque_nm"] = self._state[:, 2].astype(np.float32)
        packed = np.concatenate([values[name] for name, _ in self.layout])
        fresh, self._fresh = self._fresh, False
        return Reading(packed, time.monotonic(), fresh, self.layout)

    def write(self, torque_nm: np.ndarray) -> None:
        assert self.bus is not None, "configure() first"
        answered = 0
        for i, ((motor_id, _), torque) in enumerate(zip(self.motors, torque_nm, strict=True)):
            try:
                reply = self.bus.command(motor_id, MitCommand(torque_nm=float(torque)))
            except MotorTimeout:
                self._timeouts += 1
                continue  # this tick's reading is stale; the watchdog counts it
            self._state[i] = reply.position_rad, reply.velocity_rad_s, reply.torque_nm
            answered += 1
        self._fresh = answered == len(self.motors)

    def deactivate(self) -> None:
        if self.bus is None:
            return
        for motor_id, _ in self.motors:
            try:
                self.bus.command(motor_id, MitCommand())
                self.bus.exit(motor_id)
            except MotorTimeout:
                pass

    def counters(self) -> dict[str, int]:
        return {"motor_timeout": self._timeouts} if self._timeouts else {}

    def close(self) -> None:
        if self.bus is not None:
            self.bus.close()
            self.bus = None

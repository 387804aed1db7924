"""An AK-series motor driver emulated on a python-can bus, following the MIT-mode protocol
(:mod:`gaitsim.hardware.mit`), for testing the CAN side without hardware.

Each emulated driver answers every frame sent to its ID with a reply (as Katz's firmware
does): enter and exit motor mode, set zero, and commands. In motor mode a command's law
``Kp (p_des - p) + Kd (v_des - v) + t_ff``, clamped to the torque range, drives a rotor of
``inertia`` with viscous ``damping`` (the output side: the reflected inertia of an AK80-9 and
a light limb segment; modelling choices, not datasheet values); out of motor mode the output
is zero torque. State advances by the host's time between frames (at most ``max_step_s``).
The bus is python-can's: ``virtual`` within one process (the emulator in a thread), or
``udp_multicast`` between processes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gaitsim.hardware.mit import (
    REPLY_ID,
    SPECIAL,
    MitCommand,
    MitRanges,
    MitReply,
    pack_reply,
    unpack_command,
)


@dataclass
class EmulatedMotor:
    """One driver's state."""

    motor_id: int
    ranges: MitRanges
    inertia: float = 0.02  # kg m^2 at the output
    damping: float = 0.05  # N m s/rad
    temperature_c: float = 30.0
    enabled: bool = False
    position_rad: float = 0.0
    velocity_rad_s: float = 0.0
    torque_nm: float = 0.0
    command: MitCommand = field(default_factory=MitCommand)
    frames: int = 0

    def advance(self, dt: float) -> None:
        """Integrate the rotor over ``dt`` under the current command (semi-implicit Euler)."""
        c = self.command
        torque = 0.0
        if self.enabled:
            torque = (
                c.kp * (c.position_rad - self.position_rad)
                + c.kd * (c.velocity_rad_s - self.velocity_rad_s)
                + c.torque_nm
            )
            low, high = self.ranges.torque_nm
            torque = min(max(torque, low), high)
        self.torque_nm = torque
        accel = (torque - self.damping * self.velocity_rad_s) / self.inertia
        self.velocity_rad_s += accel * dt
        self.position_rad += self.velocity_rad_s * dt

    def handle(self, data: bytes) -> bytes:
        """Apply one frame's data; the reply's data."""
        self.frames += 1
        special = SPECIAL.get(bytes(data))
        if special == "enter":
            self.enabled = True
        elif special == "exit":
            self.enabled, self.command = False, MitCommand()
        elif special == "zero":
            self.position_rad = 0.0
        elif len(data) == 8:
            self.command = unpack_command(bytes(data), self.ranges)
        reply = MitReply(
            self.motor_id,
            self.position_rad,
            self.velocity_rad_s,
            self.torque_nm,
            self.temperature_c,
            0,
        )
        return pack_reply(reply, self.ranges)


class MotorEmulator:
    """Drivers on a bus, served by a thread: ``start()``, then ``stop()`` (or a ``with``)."""

    def __init__(
        self,
        motors: dict[int, MitRanges],
        channel: str = "gaitsim",
        interface: str = "virtual",
        max_step_s: float = 0.01,
        **bus_kwargs: Any,
    ) -> None:
        import can

        self.motors = {i: EmulatedMotor(i, r) for i, r in motors.items()}
        self._bus = can.Bus(interface=interface, channel=channel, **bus_kwargs)
        self._can = can
        self._max_step_s = max_step_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="mit-emulator", daemon=True)
        self._last = time.monotonic()

    def start(self) -> MotorEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._bus.shutdown()

    def __enter__(self) -> MotorEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            message = self._bus.recv(timeout=0.05)
            if message is None or message.is_extended_id:
                continue
            motor = self.motors.get(message.arbitration_id)
            if motor is None:
                continue
            now = time.monotonic()
            dt = min(now - self._last, self._max_step_s)
            self._last = now
            for m in self.motors.values():
                m.advance(dt)
            data = motor.handle(bytes(message.data))
            self._bus.send(
                self._can.Message(arbitration_id=REPLY_ID, data=data, is_extended_id=False)
            )

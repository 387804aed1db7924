"""The host side of MIT-mode motors on a CAN bus (python-can): send a frame to a driver and
wait for its reply. What the CAN hardware adapter drives its modules with."""

from __future__ import annotations

import time
from typing import Any

from gaitsim.hardware.mit import (
    ENTER_MOTOR_MODE,
    EXIT_MOTOR_MODE,
    REPLY_ID,
    SET_ZERO,
    MitCommand,
    MitRanges,
    MitReply,
    pack_command,
    unpack_reply,
)


class MotorTimeout(TimeoutError):
    """A driver did not reply in time; the message names it."""


class MitBus:
    """MIT-mode drivers by ID (``motors``: ID -> the firmware's ranges) on one bus."""

    def __init__(
        self,
        motors: dict[int, MitRanges],
        channel: str = "gaitsim",
        interface: str = "virtual",
        reply_timeout_s: float = 0.05,
        **bus_kwargs: Any,
    ) -> None:
        import can

        self._can = can
        self.motors = dict(motors)
        self.reply_timeout_s = reply_timeout_s
        self._bus = can.Bus(interface=interface, channel=channel, **bus_kwargs)

    def close(self) -> None:
        self._bus.shutdown()

    def enter(self, motor_id: int) -> MitReply:
        return self._exchange(motor_id, ENTER_MOTOR_MODE)

    def exit(self, motor_id: int) -> MitReply:
        return self._exchange(motor_id, EXIT_MOTOR_MODE)

    def zero(self, motor_id: int) -> MitReply:
        return self._exchange(motor_id, SET_ZERO)

    def command(self, motor_id: int, command: MitCommand) -> MitReply:
        self._check(motor_id)
        return self._exchange(motor_id, pack_command(command, self.motors[motor_id]))

    def _check(self, motor_id: int) -> None:
        if motor_id not in self.motors:
            raise KeyError(f"motor {motor_id}: not on this bus (motors: {sorted(self.motors)})")

    def _exchange(self, motor_id: int, data: bytes) -> MitReply:
        self._check(motor_id)
        self._bus.send(self._can.Message(arbitration_id=motor_id, data=data, is_extended_id=False))
        deadline = time.monotonic() + self.reply_timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = self._bus.recv(timeout=left)
            if message is None:
                break
            if message.arbitration_id == REPLY_ID and message.data and message.data[0] == motor_id:
                return unpack_reply(bytes(message.data), self.motors[motor_id])
        raise MotorTimeout(f"motor {motor_id}: no reply within {self.reply_timeout_s * 1000:g} ms")

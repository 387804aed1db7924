"""The "MIT mode" CAN protocol of T-Motor/CubeMars AK-series actuators (Ben Katz's mini cheetah
motor driver; CubeMars AK manual V1.0.8 section 5.3, "MIT power mode"; REFERENCES.md 4.4).

CAN 2.0 standard frames at 1 Mbit/s, addressed to the motor's driver ID:

- command, 8 bytes: position (16 bit), velocity (12), Kp (12), Kd (12), feed-forward torque
  (12), big-endian bit fields in that order; each a float mapped linearly onto the unsigned
  integers over its ``[min, max]`` range (values outside are clamped);
- reply, from the driver to ID ``REPLY_ID`` (the host), first byte the driver ID: position
  (16 bit), velocity (12), torque (12), and on CubeMars firmware a temperature byte (deg C +
  ``TEMPERATURE_OFFSET_C`` [memory]) and an error code byte: 6 or 8 bytes;
- special commands: seven 0xFF then 0xFC (enter motor mode), 0xFD (exit) or 0xFE (set the
  current position as zero).

The ranges differ by model and firmware, so they are configuration (:class:`MitRanges`,
presets in ``MIT_RANGES``): the firmware's table must be what the host packs with, or every
command means something else. The driver runs the law
``torque = Kp (p_des - p) + Kd (v_des - v) + t_ff`` at its own current-loop rate; torque
control is Kp = Kd = 0 with the torque feed-forward.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The host's CAN ID, the replies' arbitration ID (the driver ID is the reply's first byte).
REPLY_ID = 0x000
#: CubeMars replies carry the temperature in deg C plus this [memory: verify on the firmware].
TEMPERATURE_OFFSET_C = 40

ENTER_MOTOR_MODE = bytes([0xFF] * 7 + [0xFC])
EXIT_MOTOR_MODE = bytes([0xFF] * 7 + [0xFD])
SET_ZERO = bytes([0xFF] * 7 + [0xFE])
SPECIAL = {ENTER_MOTOR_MODE: "enter", EXIT_MOTOR_MODE: "exit", SET_ZERO: "zero"}

_BITS = {"position": 16, "velocity": 12, "kp": 12, "kd": 12, "torque": 12}


@dataclass(frozen=True)
class MitRanges:
    """The float ranges the firmware maps its integer fields onto (SI units: rad, rad/s,
    N m/rad, N m s/rad, N m)."""

    position_rad: tuple[float, float]
    velocity_rad_s: tuple[float, float]
    kp: tuple[float, float]
    kd: tuple[float, float]
    torque_nm: tuple[float, float]

    def __post_init__(self) -> None:
        for name in ("position_rad", "velocity_rad_s", "kp", "kd", "torque_nm"):
            low, high = getattr(self, name)
            if not low < high:
                raise ValueError(f"{name} = ({low}, {high}): need min < max")

    def range_of(self, field: str) -> tuple[float, float]:
        """The range of a field (``position``, ``velocity``, ``kp``, ``kd``, ``torque``)."""
        return {
            "position": self.position_rad,
            "velocity": self.velocity_rad_s,
            "kp": self.kp,
            "kd": self.kd,
            "torque": self.torque_nm,
        }[field]

    def step(self, field: str) -> float:
        """One quantisation step of a field."""
        low, high = self.range_of(field)
        return (high - low) / ((1 << _BITS[field]) - 1)


#: Ranges by model and firmware (REFERENCES.md 4.4): the AK80-9 as in the CubeMars table and
#: the Arduino packers, and as newer firmware has it (logeexpluoqi/BionicRobotFish's ak80_9.h
#: holds both); the AK10-9's torque range +-54 N m [read], its other ranges the AK80-9's
#: [memory]. Kp 0-500 N m/rad and Kd 0-5 N m s/rad in all.
MIT_RANGES: dict[str, MitRanges] = {
    "ak80-9": MitRanges((-12.5, 12.5), (-50.0, 50.0), (0.0, 500.0), (0.0, 5.0), (-18.0, 18.0)),
    "ak80-9-new": MitRanges((-95.5, 95.5), (-30.0, 30.0), (0.0, 500.0), (0.0, 5.0), (-18.0, 18.0)),
    "ak10-9": MitRanges((-12.5, 12.5), (-50.0, 50.0), (0.0, 500.0), (0.0, 5.0), (-54.0, 54.0)),
}


@dataclass(frozen=True)
class MitCommand:
    """One MIT-mode command: set-points, gains and feed-forward torque."""

    position_rad: float = 0.0
    velocity_rad_s: float = 0.0
    kp: float = 0.0
    kd: float = 0.0
    torque_nm: float = 0.0


@dataclass(frozen=True)
class MitReply:
    """One reply of a driver: its ID, state, and (CubeMars) temperature and error code."""

    motor_id: int
    position_rad: float
    velocity_rad_s: float
    torque_nm: float
    temperature_c: float | None = None
    error: int | None = None


def to_uint(x: float, low: float, high: float, bits: int) -> int:
    """``x`` clamped to ``[low, high]`` and mapped onto ``0 .. 2^bits - 1`` (rounded to the
    nearest: at most half a step off; Katz's firmware truncates, a step at most). A NaN
    maps to the middle of the range: the caller's safety layer must never send one."""
    top = (1 << bits) - 1
    if x != x:
        return top // 2
    u = (min(max(x, low), high) - low) / (high - low)
    return int(round(u * top))


def to_float(value: int, low: float, high: float, bits: int) -> float:
    """Inverse of :func:`to_uint`."""
    return low + value * (high - low) / ((1 << bits) - 1)


def pack_command(command: MitCommand, ranges: MitRanges) -> bytes:
    """The 8 data bytes of a command frame."""
    p, v, kp, kd, t = (
        to_uint(value, *ranges.range_of(field), _BITS[field])
        for field, value in (
            ("position", command.position_rad),
            ("velocity", command.velocity_rad_s),
            ("kp", command.kp),
            ("kd", command.kd),
            ("torque", command.torque_nm),
        )
    )
    return bytes(
        [
            p >> 8,
            p & 0xFF,
            v >> 4,
            ((v & 0xF) << 4) | (kp >> 8),
            kp & 0xFF,
            kd >> 4,
            ((kd & 0xF) << 4) | (t >> 8),
            t & 0xFF,
        ]
    )


def unpack_command(data: bytes, ranges: MitRanges) -> MitCommand:
    """A command frame's data as the driver reads it (the emulator's side)."""
    if len(data) != 8:
        raise ValueError(f"an MIT command has 8 data bytes, not {len(data)}")
    p = (data[0] << 8) | data[1]
    v = (data[2] << 4) | (data[3] >> 4)
    kp = ((data[3] & 0xF) << 8) | data[4]
    kd = (data[5] << 4) | (data[6] >> 4)
    t = ((data[6] & 0xF) << 8) | data[7]
    return MitCommand(
        *(
            to_float(value, *ranges.range_of(field), _BITS[field])
            for field, value in zip(_BITS, (p, v, kp, kd, t), strict=True)
        )
    )


def pack_reply(reply: MitReply, ranges: MitRanges) -> bytes:
    """A reply frame's data (the driver's side): 6 bytes, or 8 with temperature and error."""
    p = to_uint(reply.position_rad, *ranges.position_rad, 16)
    v = to_uint(reply.velocity_rad_s, *ranges.velocity_rad_s, 12)
    t = to_uint(reply.torque_nm, *ranges.torque_nm, 12)
    data = [reply.motor_id & 0xFF, p >> 8, p & 0xFF, v >> 4, ((v & 0xF) << 4) | (t >> 8), t & 0xFF]
    if reply.temperature_c is not None:
        temperature = int(round(reply.temperature_c)) + TEMPERATURE_OFFSET_C
        data += [min(max(temperature, 0), 255), (reply.error or 0) & 0xFF]
    return bytes(data)


def unpack_reply(data: bytes, ranges: MitRanges) -> MitReply:
    """A reply frame's data as the host reads it (6 or 8 bytes)."""
    if len(data) not in (6, 8):
        raise ValueError(f"an MIT reply has 6 or 8 data bytes, not {len(data)}")
    p = (data[1] << 8) | data[2]
    v = (data[3] << 4) | (data[4] >> 4)
    t = ((data[4] & 0xF) << 8) | data[5]
    return MitReply(
        data[0],
        to_float(p, *ranges.position_rad, 16),
        to_float(v, *ranges.velocity_rad_s, 12),
        to_float(t, *ranges.torque_nm, 12),
        float(data[6] - TEMPERATURE_OFFSET_C) if len(data) == 8 else None,
        data[7] if len(data) == 8 else None,
    )

"""The safety layer between a controller and the motors: a pure function of the limits, its
state, the controller's command and the latest measurements, always on.

Per joint, in this order (:func:`filter_command`):

1. a latched stop (emergency stop, a non-finite command, a controller error) gives zero torque
   until :func:`rearm`;
2. a command with NaN or inf latches a protective stop (``non_finite_command``);
3. the watchdog: when the measurements have not been fresh for ``stale_periods`` ticks in a
   row, zero torque (not latched: it lifts when fresh data comes back); non-finite
   measurements count as stale (the limits below cannot be checked on them);
4. the torque limit ``|tau| <= torque_nm``;
5. the rate limit: a torque may fall towards zero at once, but may grow (or change sign) by at
   most ``torque_rate_nm_s`` x the tick;
6. the velocity limit: beyond ``velocity_rad_s``, no torque in the direction of motion;
7. the range limit: outside ``[position_min_rad, position_max_rad]``, no torque pushing further
   out (steps 6-7 only zero torques, so they keep 4-5).

The limits come from the device (:func:`limits_for_device`: the actuators' peak torque and
no-load speed, the modules' joint ranges); a configuration can only tighten them
(:meth:`SafetyLimits.tightened`), so no controller parameter can exceed them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: Default torque slew limit as a fraction of the peak torque per second: peak torque reached
#: in 20 ms, well within a gait phase (a modelling choice; exoskeleton assist profiles rise
#: over 10-15 % of a 1 s stride).
RATE_PER_S_OF_PEAK = 50.0
#: Ticks of stale measurements after which the watchdog commands zero torque.
STALE_PERIODS = 2


@dataclass(frozen=True)
class SafetyLimits:
    """Per-joint limits (arrays of the modules' length) and the watchdog's period count."""

    torque_nm: np.ndarray
    torque_rate_nm_s: np.ndarray
    velocity_rad_s: np.ndarray
    position_min_rad: np.ndarray
    position_max_rad: np.ndarray
    tick_s: float
    stale_periods: int = STALE_PERIODS

    def __post_init__(self) -> None:
        n = len(self.torque_nm)
        for name in (
            "torque_nm",
            "torque_rate_nm_s",
            "velocity_rad_s",
            "position_min_rad",
            "position_max_rad",
        ):
            value = np.asarray(getattr(self, name), float)
            if value.shape != (n,) or not np.all(np.isfinite(value)):
                raise ValueError(f"{name}: need {n} finite values, got {value.tolist()}")
            object.__setattr__(self, name, value)
        if np.any(self.torque_nm < 0) or np.any(self.torque_rate_nm_s <= 0):
            raise ValueError("torque_nm must be >= 0 and torque_rate_nm_s > 0")
        if np.any(self.velocity_rad_s <= 0) or np.any(
            self.position_min_rad >= self.position_max_rad
        ):
            raise ValueError("velocity_rad_s must be > 0 and position_min_rad < position_max_rad")
        if not self.tick_s > 0 or self.stale_periods < 1:
            raise ValueError("tick_s must be > 0 and stale_periods >= 1")

    def tightened(self, **tighter: Any) -> SafetyLimits:
        """These limits with some made stricter: each given value only counts where it is
        within the current one (so a configuration cannot loosen a device's limits)."""
        out: dict[str, Any] = {}
        for name, value in tighter.items():
            current = getattr(self, name)
            if name == "position_min_rad":
                out[name] = np.maximum(current, value)
            elif name in ("torque_nm", "torque_rate_nm_s", "velocity_rad_s", "position_max_rad"):
                out[name] = np.minimum(current, value)
            elif name == "stale_periods":
                out[name] = min(current, int(value))
            else:
                raise ValueError(
                    f"{name}: not a limit (torque_nm, torque_rate_nm_s, "
                    "velocity_rad_s, position_min_rad, position_max_rad, "
                    "stale_periods)"
                )
        return replace(self, **out)


@dataclass(frozen=True)
class SafetyState:
    """What the filter remembers: the last torque it let out, how many ticks the data has been
    stale, and the latched stop's reason (None while armed)."""

    previous_nm: np.ndarray
    stale_ticks: int = 0
    stopped: str | None = None


@dataclass(frozen=True)
class SafetyEvent:
    """Something the filter did this tick: ``kind`` (``stop``, ``watchdog``, ``torque_limit``,
    ``rate_limit``, ``velocity_limit``, ``range_limit``) on ``joints``."""

    kind: str
    joints: tuple[int, ...] = ()
    detail: str = ""


def initial_state(limits: SafetyLimits) -> SafetyState:
    return SafetyState(np.zeros(len(limits.torque_nm)))


def emergency_stop(state: SafetyState, reason: str = "emergency_stop") -> SafetyState:
    """Latch a stop (an e-stop button, a signal, a controller error): zero torque until
    :func:`rearm`. An earlier stop's reason is kept."""
    return replace(state, stopped=state.stopped or reason)


def rearm(state: SafetyState) -> SafetyState:
    """Clear a latched stop (an operator's action, when the loop is re-activated)."""
    return replace(state, stopped=None, stale_ticks=0, previous_nm=np.zeros_like(state.previous_nm))


def filter_command(
    limits: SafetyLimits,
    state: SafetyState,
    command_nm: Any,
    position_rad: Any,
    velocity_rad_s: Any,
    fresh: bool,
) -> tuple[SafetyState, np.ndarray, list[SafetyEvent]]:
    """(new state, the torque to write, what was done) for one tick (module docstring)."""
    n = len(limits.torque_nm)
    zero = np.zeros(n)
    events: list[SafetyEvent] = []
    command = np.asarray(command_nm, float).reshape(-1)
    if command.shape != (n,):
        state = emergency_stop(state, "bad_command_shape")
        events.append(SafetyEvent("stop", tuple(range(n)), f"command shape {command.shape}"))
    elif state.stopped is None and not np.all(np.isfinite(command)):
        state = emergency_stop(state, "non_finite_command")
        events.append(
            SafetyEvent("stop", tuple(np.flatnonzero(~np.isfinite(command))), "non_finite_command")
        )
    if state.stopped is not None:
        return replace(state, previous_nm=zero), zero, events
    q = np.asarray(position_rad, float).reshape(-1)
    v = np.asarray(velocity_rad_s, float).reshape(-1)
    usable = (
        fresh
        and q.shape == (n,)
        and v.shape == (n,)
        and bool(np.all(np.isfinite(q)) and np.all(np.isfinite(v)))
    )
    stale = 0 if usable else state.stale_ticks + 1
    if not usable:
        if stale >= limits.stale_periods:
            events.append(SafetyEvent("watchdog", tuple(range(n)), f"stale for {stale} ticks"))
            return SafetyState(zero, stale), zero, events
        # within the watchdog's grace: hold the last safe torque (no new command), still
        # within the velocity and range limits of the last finite readings
        held = state.previous_nm.copy()
        if q.shape == (n,) and v.shape == (n,):
            held = _directions(limits, held, np.nan_to_num(q), np.nan_to_num(v), events)
        return SafetyState(held, stale), held, events
    out, hits = limit_torque(limits, state.previous_nm, command, q, v)
    for kind, mask in hits.items():
        _note(events, kind, mask)
    return SafetyState(out, 0), out, events


def limit_torque(
    limits: SafetyLimits, previous_nm: Any, command_nm: Any, q: Any, v: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps 4-7 of the filter on finite values whose last axis is the joints (a leading
    member axis is allowed: a batch of devices): the torque to write and, per limit kind
    (``torque_limit``, ``rate_limit``, ``velocity_limit``, ``range_limit``, in that order),
    where it acted."""
    command = np.asarray(command_nm, float)
    previous = np.asarray(previous_nm, float)
    # np.minimum/maximum, not np.clip: this runs at every simulated device tick, and on a
    # few values np.clip costs several times more
    out = np.minimum(np.maximum(command, -limits.torque_nm), limits.torque_nm)
    torque_hit = out != command
    towards_zero = (np.abs(out) <= np.abs(previous)) & (out * previous >= 0)
    step = limits.torque_rate_nm_s * limits.tick_s
    ramped = np.minimum(np.maximum(out, previous - step), previous + step)
    limited = np.where(towards_zero, out, ramped)
    fast, outside = _direction_masks(limits, limited, q, v)
    return np.where(fast | outside, 0.0, limited), {
        "torque_limit": torque_hit,
        "rate_limit": limited != out,
        "velocity_limit": fast,
        "range_limit": outside,
    }


def _direction_masks(
    limits: SafetyLimits, out: np.ndarray, q: Any, v: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Where a torque would speed a joint past its velocity limit, and where it would push
    the joint further out of its range."""
    fast = (np.abs(v) > limits.velocity_rad_s) & (out * v > 0)
    high = (q > limits.position_max_rad) & (out > 0)
    return fast, high | ((q < limits.position_min_rad) & (out < 0))


def _directions(
    limits: SafetyLimits, out: np.ndarray, q: np.ndarray, v: np.ndarray, events: list[SafetyEvent]
) -> np.ndarray:
    """Zero the torques that would speed a joint past its velocity limit or push it further
    out of its range."""
    fast, outside = _direction_masks(limits, out, q, v)
    _note(events, "velocity_limit", fast)
    _note(events, "range_limit", outside)
    return np.where(fast | outside, 0.0, out)


def _note(events: list[SafetyEvent], kind: str, mask: np.ndarray) -> None:
    if np.any(mask):
        events.append(SafetyEvent(kind, tuple(int(j) for j in np.flatnonzero(mask))))


class SimulatedSafety:
    """The safety layer of simulated devices, ``members`` of them at once (one for a single
    simulation), so that a controller or a policy meets in simulation the limits it meets on
    the robot (DESIGN: "Where sim and robot meet"). Simulated sensors never go silent, so
    the watchdog has nothing to do; a non-finite command latches that member's protective
    stop (zero torque until :meth:`restart`), and the limits act as on the robot
    (:func:`limit_torque`). ``counts``: per kind, the member-ticks it acted on (``stop``
    the ticks a latched stop held the torque at zero)."""

    def __init__(self, limits: SafetyLimits, members: int = 1) -> None:
        self.limits = limits
        n = len(limits.torque_nm)
        self.previous_nm = np.zeros((members, n))
        self.stopped = np.zeros(members, bool)
        self.counts = dict.fromkeys(
            ("stop", "torque_limit", "rate_limit", "velocity_limit", "range_limit"), 0
        )

    def restart(self, members: Any = slice(None)) -> None:
        """Members start afresh (a new episode): no previous torque, the stop cleared."""
        self.previous_nm[members] = 0.0
        self.stopped[members] = False

    def filter(self, command_nm: Any, q: Any, v: Any, members: Any = slice(None)) -> np.ndarray:
        """The torque to write for ``members`` (rows of ``command_nm``, ``q``, ``v``: their
        commands and measured joint angles and velocities). A non-finite measurement (a
        blown-up simulation, which ends there) lets no limit act on its joint."""
        command = np.asarray(command_nm, float)
        stopped = self.stopped[members]
        finite = np.isfinite(command).all(axis=-1)
        held = not finite.all() or stopped.any()  # rare: the common tick skips the masking
        if held:
            stopped = stopped | ~finite
            self.stopped[members] = stopped
            command = np.where(stopped[..., None], 0.0, command)
        out, hits = limit_torque(self.limits, self.previous_nm[members], command, q, v)
        if held:
            out = np.where(stopped[..., None], 0.0, out)
            self.counts["stop"] += int(np.count_nonzero(stopped))
        self.previous_nm[members] = out
        for kind, mask in hits.items():
            if mask.any():
                acted = mask.any(axis=-1)
                self.counts[kind] += int(np.count_nonzero(acted & ~stopped if held else acted))
        return out


def limits_for_device(device: Any, tick_s: float, ranges_rad: Any) -> SafetyLimits:
    """The device's own limits: its actuators' peak torque and no-load speed (a
    ``BuiltDevice`` or the trace's ``meta["device"]`` dict), the modules' joint ranges
    (``ranges_rad``: (n, 2)) and a slew of ``RATE_PER_S_OF_PEAK`` x peak per second."""
    get = device.get if isinstance(device, dict) else lambda k: getattr(device, k)
    peak = np.asarray(get("peak_torque_nm"), float)
    ranges = np.asarray(ranges_rad, float).reshape(len(peak), 2)
    return SafetyLimits(
        torque_nm=peak,
        torque_rate_nm_s=RATE_PER_S_OF_PEAK * peak,
        velocity_rad_s=np.asarray(get("max_speed_rad_s"), float),
        position_min_rad=ranges[:, 0],
        position_max_rad=ranges[:, 1],
        tick_s=tick_s,
    )

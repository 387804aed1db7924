"""Gait events per side (heel strike, toe-off) from the vertical contact force, with hysteresis.

Definition: a foot is *loaded* from the first sample its vertical GRF rises above an on-threshold
until the first sample it falls below a lower off-threshold. Heel strike = the first loaded sample
of a contact, toe-off = the first unloaded sample after it. Thresholds on vertical GRF are the
usual force-plate convention (commonly 20–50 N or 2–5 % of body weight; e.g. Zeni, Richards &
Higginson 2008 use force-plate events as their reference; SCONE's gait state controller uses
0.1 body weight of leg load); in simulation the per-foot contact-force sum is used with
hysteresis (on 5 % BW, off 2 % BW by default) plus minimum durations: a contact shorter than
50 ms is chatter or a scuff, and a foot off the ground for less than 100 ms has not swung (a
paretic foot that lifts at toe-off and touches down again at once drags its toe, it does not
step: normal swing lasts about 400 ms, Perry & Burnfield 2010). The tuning cost of
gaitsim.neural.tune counts swings with the same thresholds.

A contact already under way at the first sample is not a heel strike, and one still under way at
the last sample has no toe-off: truncated phases never produce events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gaitsim.constants import G_M_S2, SIDES, grf_channel
from gaitsim.sim.trace import Trace

#: Default hysteresis thresholds (fraction of body weight) and minimum phase duration (s).
ON_BW = 0.05
OFF_BW = 0.02
MIN_PHASE_S = 0.05
#: Shortest time off the ground that counts as a swing (s); shorter lifts are bridged.
MIN_SWING_S = 0.1


@dataclass(frozen=True)
class SideEvents:
    """Events of one foot: sample indices and times (s) of heel strikes and toe-offs.

    ``loaded`` (T,) is the cleaned contact state the events were taken from.
    """

    heel_strike_idx: np.ndarray
    toe_off_idx: np.ndarray
    heel_strike_s: np.ndarray
    toe_off_s: np.ndarray
    loaded: np.ndarray


def body_weight_n(meta: Mapping[str, Any]) -> float:
    """Body weight (N) = ``meta["body"]["mass_kg"]`` × 9.81 m/s²."""
    try:
        mass_kg = float(meta["body"]["mass_kg"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            "trace meta has no numeric body.mass_kg; gait metrics need the body weight"
        ) from None
    if not mass_kg > 0:
        raise ValueError(f"trace meta body.mass_kg = {mass_kg}; it must be > 0 kg")
    return mass_kg * G_M_S2


def hysteresis_contact(force_n: np.ndarray, on_n: float, off_n: float) -> np.ndarray:
    """Contact state (bool, T) of a vertical force (N) with on/off thresholds (N).

    Loaded after the force rises above ``on_n``, unloaded after it falls below ``off_n``;
    in between (and for NaN samples) the previous state holds. Starts unloaded.
    """
    if not off_n < on_n:
        raise ValueError(f"hysteresis needs off < on threshold; got off={off_n} N, on={on_n} N")
    force = np.asarray(force_n, dtype=float)
    crossing = np.zeros(force.shape, dtype=np.int8)
    crossing[force > on_n] = 1
    crossing[force < off_n] = -1
    # Index of the most recent decisive sample; the state is whatever that sample decided.
    last = np.maximum.accumulate(np.where(crossing != 0, np.arange(force.size), -1))
    return (last >= 0) & (crossing[np.maximum(last, 0)] == 1)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and exclusive end indices of the True runs of a bool array."""
    step = np.diff(mask.astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(step == 1), np.flatnonzero(step == -1)


def reject_short_phases(
    mask: np.ndarray, time_s: np.ndarray, min_s: float, min_gap_s: float | None = None
) -> np.ndarray:
    """Contact state with flights shorter than ``min_gap_s`` (default ``min_s``), then
    contacts shorter than ``min_s`` (s), removed.

    Short gaps are bridged first (a bouncing heel, or a toe lifted and dragged, is one
    contact), then short isolated contacts are dropped (a scuff is not a step). Truncated
    contacts at either end are kept, since their true duration is unknown.
    """
    starts, ends = _runs(mask)
    n = mask.size
    if starts.size == 0:
        return np.zeros(n, dtype=bool)
    gap_s = time_s[starts[1:]] - time_s[ends[:-1]]
    keep_gap = gap_s >= (min_s if min_gap_s is None else min_gap_s)
    starts = np.concatenate([starts[:1], starts[1:][keep_gap]])
    ends = np.concatenate([ends[:-1][keep_gap], ends[-1:]])
    truncated = (starts == 0) | (ends == n)
    contact_s = time_s[np.minimum(ends, n - 1)] - time_s[starts]
    keep = truncated | (contact_s >= min_s)
    cleaned = np.zeros(n, dtype=bool)
    for start, end in zip(starts[keep], ends[keep], strict=True):
        cleaned[start:end] = True
    return cleaned


def side_events(
    force_n: np.ndarray,
    time_s: np.ndarray,
    on_n: float,
    off_n: float,
    min_phase_s: float = MIN_PHASE_S,
    min_swing_s: float = MIN_SWING_S,
) -> SideEvents:
    """Heel strikes and toe-offs of one foot from its vertical force (N); see module docstring."""
    time_s = np.asarray(time_s, dtype=float)
    contact = hysteresis_contact(force_n, on_n, off_n)
    loaded = reject_short_phases(contact, time_s, min_phase_s, min_swing_s)
    starts, ends = _runs(loaded)
    hs = starts[starts > 0]
    to = ends[ends < loaded.size]
    return SideEvents(hs, to, time_s[hs], time_s[to], loaded)


def detect_events(
    trace: Trace,
    on_bw: float = ON_BW,
    off_bw: float = OFF_BW,
    min_phase_s: float = MIN_PHASE_S,
    min_swing_s: float = MIN_SWING_S,
) -> dict[str, SideEvents]:
    """Gait events per side (``"left"``, ``"right"``) from ``grf_{side}_n[:, 2]``.

    Thresholds are fractions of body weight (``meta["body"]["mass_kg"]`` × g). A side with no
    GRF channel never touches the ground.
    """
    bw_n = body_weight_n(trace.meta)
    time_s = np.asarray(trace.time_s, dtype=float)
    events = {}
    for side in SIDES:
        name = grf_channel(side)
        force = trace[name][:, 2] if name in trace else np.zeros(time_s.size)
        events[side] = side_events(
            force, time_s, on_bw * bw_n, off_bw * bw_n, min_phase_s, min_swing_s
        )
    return events


def steady_state(events: dict[str, SideEvents], start_s: float) -> dict[str, SideEvents]:
    """Drop heel strikes before ``start_s``: the steps of gait initiation.

    Steady-state gait analysis leaves out the first steps after the start (a run begins in a
    tuned gait state, and its first touch-downs can be scuffs). Step-to steps of a paretic foot
    that lands behind the other one stay: negative step lengths are a pathological feature.
    """
    return {
        side: replace(
            ev,
            heel_strike_idx=ev.heel_strike_idx[ev.heel_strike_s >= start_s],
            heel_strike_s=ev.heel_strike_s[ev.heel_strike_s >= start_s],
        )
        for side, ev in events.items()
    }

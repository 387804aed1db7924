"""Spatiotemporal gait parameters per stride and per step, from gait events and positions.

Definitions (Perry & Burnfield 2010; Winter 2009):

- stride: heel strike to the next ipsilateral heel strike; stride time (s), stride length (m) =
  heel x displacement between the two heel strikes, speed (m/s) = CoM (or pelvis) x displacement
  over the stride / stride time.
- stance = heel strike to toe-off, swing = toe-off to next heel strike, both in s and % of stride.
- double support (% of stride) = time both feet are loaded within the stride / stride time; this
  is the *total* (initial + terminal) double support, ≈ 20 % in healthy walking.
- step (at a heel strike of one foot): step length (m) = heel x of that foot − heel x of the other
  foot; step time (s) = time since the preceding contralateral heel strike.
- cadence (steps/min) = 60 / mean step time.

Entries that cannot be computed (no toe-off in a stride, a missing channel) are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaitsim.metrics._stats import finite_mean
from gaitsim.metrics.events import SideEvents


@dataclass(frozen=True)
class StrideTable:
    """Per-stride parameters of one side; every array has one entry per stride."""

    heel_strike_idx: np.ndarray
    next_heel_strike_idx: np.ndarray
    toe_off_idx: np.ndarray  # -1 where the stride has no toe-off
    stride_time_s: np.ndarray
    stance_time_s: np.ndarray
    swing_time_s: np.ndarray
    stance_pct: np.ndarray
    swing_pct: np.ndarray
    double_support_pct: np.ndarray
    speed_m_s: np.ndarray
    stride_length_m: np.ndarray

    @property
    def n(self) -> int:
        """Number of strides."""
        return int(self.heel_strike_idx.size)


@dataclass(frozen=True)
class StepTable:
    """Per-step parameters at each heel strike of one side."""

    heel_strike_idx: np.ndarray
    step_time_s: np.ndarray
    step_length_m: np.ndarray


def _toe_off_within(to_idx: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The first toe-off in (start, end) for each window, or -1."""
    if to_idx.size == 0:
        return np.full(start.shape, -1, dtype=int)
    pos = np.searchsorted(to_idx, start, side="right")
    cand = to_idx[np.minimum(pos, to_idx.size - 1)]
    return np.where((pos < to_idx.size) & (cand < end), cand, -1)


def _displacement(x: np.ndarray | None, i0: np.ndarray, i1: np.ndarray) -> np.ndarray:
    """x[i1] − x[i0], or NaN where x is unavailable."""
    if x is None:
        return np.full(i0.shape, np.nan)
    return np.asarray(x, dtype=float)[i1] - np.asarray(x, dtype=float)[i0]


def both_loaded_time(time_s: np.ndarray, loaded_a: np.ndarray, loaded_b: np.ndarray) -> np.ndarray:
    """Cumulative time (s) with both feet loaded, from the first sample to each sample (T,)."""
    both = loaded_a[:-1] & loaded_b[:-1]
    return np.concatenate([[0.0], np.cumsum(np.diff(time_s) * both)])


def stride_table(
    time_s: np.ndarray,
    events: SideEvents,
    other_loaded: np.ndarray,
    forward_x_m: np.ndarray | None,
    heel_x_m: np.ndarray | None,
) -> StrideTable:
    """Per-stride table for one side (definitions in the module docstring).

    ``forward_x_m`` is the CoM (or pelvis) x position and ``heel_x_m`` this side's heel x (m),
    both (T,) or None when the trace lacks them.
    """
    time_s = np.asarray(time_s, dtype=float)
    hs = np.asarray(events.heel_strike_idx, dtype=int)
    i0, i1 = hs[:-1], hs[1:]
    to = _toe_off_within(np.asarray(events.toe_off_idx, dtype=int), i0, i1)
    stride_s = time_s[i1] - time_s[i0]
    stance_s = np.where(to >= 0, time_s[np.maximum(to, 0)] - time_s[i0], np.nan)
    swing_s = np.where(to >= 0, time_s[i1] - time_s[np.maximum(to, 0)], np.nan)
    ds_cum = both_loaded_time(time_s, events.loaded, other_loaded)
    return StrideTable(
        heel_strike_idx=i0,
        next_heel_strike_idx=i1,
        toe_off_idx=to,
        stride_time_s=stride_s,
        stance_time_s=stance_s,
        swing_time_s=swing_s,
        stance_pct=100.0 * stance_s / stride_s,
        swing_pct=100.0 * swing_s / stride_s,
        double_support_pct=100.0 * (ds_cum[i1] - ds_cum[i0]) / stride_s,
        speed_m_s=_displacement(forward_x_m, i0, i1) / stride_s,
        stride_length_m=_displacement(heel_x_m, i0, i1),
    )


def step_table(
    time_s: np.ndarray,
    heel_strike_idx: np.ndarray,
    other_heel_strike_idx: np.ndarray,
    heel_x_m: np.ndarray | None,
    other_heel_x_m: np.ndarray | None,
) -> StepTable:
    """Per-step table at this side's heel strikes (definitions in the module docstring).

    Step time is NaN when no contralateral heel strike lies between the previous ipsilateral
    heel strike and this one (a missed step would otherwise read as one long step).
    """
    time_s = np.asarray(time_s, dtype=float)
    hs = np.asarray(heel_strike_idx, dtype=int)
    other = np.asarray(other_heel_strike_idx, dtype=int)
    pos = np.searchsorted(other, hs, side="left") - 1
    prev_other = np.where(pos >= 0, other[np.maximum(pos, 0)] if other.size else -1, -1)
    prev_same = np.concatenate([[-1], hs[:-1]])
    valid = (prev_other >= 0) & (prev_other > prev_same)
    step_s = np.where(valid, time_s[hs] - time_s[np.maximum(prev_other, 0)], np.nan)
    if heel_x_m is None or other_heel_x_m is None:
        length_m = np.full(hs.shape, np.nan)
    else:
        length_m = (
            np.asarray(heel_x_m, dtype=float)[hs] - np.asarray(other_heel_x_m, dtype=float)[hs]
        )
    return StepTable(hs, step_s, length_m)


def cadence_steps_min(step_time_s: np.ndarray) -> float:
    """Cadence (steps/min) = 60 / mean step time (s); NaN without steps."""
    mean_s = finite_mean(step_time_s)
    return 60.0 / mean_s if mean_s > 0 else float("nan")

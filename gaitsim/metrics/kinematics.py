"""Sagittal kinematics over the gait cycle: joint-angle curves, swing peaks, toe clearance.

- Gait-cycle normalisation: each stride (heel strike to next ipsilateral heel strike) resampled
  linearly in time onto 0–100 % in 101 points, then mean and SD over strides (ensemble
  averaging; Winter 2009, Biomechanics and Motor Control of Human Movement, 4th ed.).
- Peak knee flexion in swing: maximum knee angle between toe-off and the next heel strike
  (stiff-knee gait: peak swing flexion below 40-50 deg; healthy ≈ 60–65°, Perry & Burnfield
  2010).
- Minimum toe clearance (MTC): the minimum toe height in mid-swing, after the first local
  maximum of toe height that follows toe-off and before heel strike (Winter 1992, Phys Ther
  72:45, MTC ≈ 1.3 cm; Begg et al. 2007, Gait Posture 25:191). Many impaired gaits show no distinct
  mid-swing minimum (Little, McGuirk & Patten 2014); then the MTC is the minimum toe height
  over the middle half of swing (25–75 % of swing time), so the number stays comparable
  instead of collapsing to the toe height at toe-off or heel strike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gaitsim.constants import JOINTS, SIDES, angle_channel
from gaitsim.metrics._stats import finite
from gaitsim.metrics.events import SideEvents
from gaitsim.sim.trace import Trace

N_CYCLE_POINTS = 101
#: Fallback MTC window, as fractions of swing time, when swing has no distinct minimum.
MID_SWING = (0.25, 0.75)


@dataclass(frozen=True)
class CycleCurve:
    """A signal normalised to the gait cycle: ``percent`` (0–100), mean and SD over strides.

    Units are those of the source channel (rad for joint angles); SD is the sample SD (ddof 1)
    and NaN with fewer than 2 strides; mean is NaN with none.
    """

    percent: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    n_strides: int


def normalise_cycles(
    signal: np.ndarray,
    time_s: np.ndarray,
    heel_strike_idx: np.ndarray,
    n_points: int = N_CYCLE_POINTS,
) -> np.ndarray:
    """Each stride of ``signal`` (T,) resampled onto 0–100 % of the cycle: (n_strides, n_points)."""
    time_s = np.asarray(time_s, dtype=float)
    hs = np.asarray(heel_strike_idx, dtype=int)
    frac = np.linspace(0.0, 1.0, n_points)
    rows = []
    for i0, i1 in zip(hs[:-1], hs[1:], strict=True):
        t_query = time_s[i0] + frac * (time_s[i1] - time_s[i0])
        rows.append(np.interp(t_query, time_s[i0 : i1 + 1], signal[i0 : i1 + 1]))
    return np.array(rows, dtype=float).reshape(len(rows), n_points)


def cycle_curve(cycles: np.ndarray) -> CycleCurve:
    """Mean and SD over the strides (rows) of normalised cycles."""
    n, n_points = cycles.shape
    mean = cycles.mean(axis=0) if n else np.full(n_points, np.nan)
    sd = cycles.std(axis=0, ddof=1) if n >= 2 else np.full(n_points, np.nan)
    return CycleCurve(np.linspace(0.0, 100.0, n_points), mean, sd, n)


def gait_cycle_curves(
    trace: Trace, events: Mapping[str, SideEvents], n_points: int = N_CYCLE_POINTS
) -> dict[str, CycleCurve]:
    """Hip, knee and ankle angle curves (rad, clinical signs), keyed ``"{joint}_{side}"``.

    Joints whose angle channel is missing get a curve with ``n_strides == 0``.
    """
    curves = {}
    for side in SIDES:
        for joint in JOINTS:
            name = angle_channel(joint, side)
            hs = events[side].heel_strike_idx if name in trace else np.zeros(0, dtype=int)
            signal = trace[name] if name in trace else np.zeros(len(trace))
            cycles = normalise_cycles(signal, trace.time_s, hs, n_points)
            curves[f"{joint}_{side}"] = cycle_curve(cycles)
    return curves


def peak_in_windows(signal: np.ndarray, start_idx: np.ndarray, end_idx: np.ndarray) -> np.ndarray:
    """Max of ``signal`` over each window [start, end); NaN where start < 0 or the window is empty.

    With start = toe-off and end = next heel strike this is the peak in swing.
    """
    out = np.full(np.shape(start_idx), np.nan)
    for k, (i0, i1) in enumerate(zip(start_idx, end_idx, strict=True)):
        if 0 <= i0 < i1:
            out[k] = float(np.max(signal[i0:i1]))
    return out


def swing_min_toe_clearance(toe_z_m: np.ndarray) -> float:
    """MTC (m) of one swing, ``toe_z_m`` from toe-off to heel strike; see module docstring."""
    z = finite(toe_z_m)
    n = z.size
    if n < 3:
        return float(z.min()) if n else float("nan")
    inner = np.arange(1, n - 1)
    is_max = (z[inner] >= z[inner - 1]) & (z[inner] > z[inner + 1])
    is_min = (z[inner] <= z[inner - 1]) & (z[inner] < z[inner + 1])
    maxima = inner[is_max]
    if maxima.size:
        # The first minimum after the first maximum is the mid-swing dip; a rise follows it,
        # so it cannot be the descent into heel strike.
        minima = inner[is_min & (inner > maxima[0])]
        if minima.size:
            return float(z[minima[0]])
    lo, hi = int(MID_SWING[0] * (n - 1)), int(np.ceil(MID_SWING[1] * (n - 1)))
    return float(z[lo : hi + 1].min())


def min_toe_clearance(
    toe_z_m: np.ndarray, toe_off_idx: np.ndarray, heel_strike_idx: np.ndarray
) -> np.ndarray:
    """MTC (m) of each swing [toe-off, next heel strike]; NaN where a stride has no toe-off."""
    out = np.full(np.shape(toe_off_idx), np.nan)
    for k, (i0, i1) in enumerate(zip(toe_off_idx, heel_strike_idx, strict=True)):
        if 0 <= i0 < i1:
            out[k] = swing_min_toe_clearance(toe_z_m[i0 : i1 + 1])
    return out

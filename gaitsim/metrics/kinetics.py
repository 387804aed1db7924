"""Ground reaction force peaks, in body weights.

Peak vertical GRF per stance phase (heel strike to the following toe-off) divided by body weight
(mass × g); healthy walking shows two peaks of ≈ 1.1–1.2 BW per stance (Winter 2009; Perry &
Burnfield 2010).
"""

from __future__ import annotations

import numpy as np


def stance_peaks_bw(
    vertical_force_n: np.ndarray,
    heel_strike_idx: np.ndarray,
    toe_off_idx: np.ndarray,
    body_weight_n: float,
) -> np.ndarray:
    """Peak vertical GRF / BW of each complete stance (a heel strike followed by a toe-off)."""
    force = np.asarray(vertical_force_n, dtype=float)
    to = np.asarray(toe_off_idx, dtype=int)
    peaks = []
    for hs in np.asarray(heel_strike_idx, dtype=int):
        k = np.searchsorted(to, hs, side="right")
        if k < to.size:
            peaks.append(float(np.max(force[hs : to[k]])) / body_weight_n)
    return np.array(peaks, dtype=float)

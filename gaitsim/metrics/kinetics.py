"""Ground reaction force peaks, in body weights.

Peak vertical GRF per stance phase (heel strike to the following toe-off) divided by body weight
(mass × g); healthy walking shows two peaks of ≈ 1.1–1.2 BW per stance (Winter 2009; Perry &
Burnfield 2010).
"""

from __future__ import annotations

import numpy as np

from gaitsim.metrics.kinematics import peak_in_windows


def stance_peaks_bw(
    vertical_force_n: np.ndarray,
    heel_strike_idx: np.ndarray,
    toe_off_idx: np.ndarray,
    body_weight_n: float,
) -> np.ndarray:
    """Peak vertical GRF / BW of each complete stance (a heel strike followed by a toe-off)."""
    hs = np.asarray(heel_strike_idx, dtype=int)
    to = np.asarray(toe_off_idx, dtype=int)
    k = np.searchsorted(to, hs, side="right")
    complete = k < to.size
    ends = to[k[complete]]
    return (
        peak_in_windows(np.asarray(vertical_force_n, dtype=float), hs[complete], ends)
        / body_weight_n
    )

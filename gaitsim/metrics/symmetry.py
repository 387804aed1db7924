"""Left/right symmetry of a gait parameter: symmetry ratio and symmetry index.

Both are reported because the literature's definitions disagree on the same data
(definitions compared in Patterson et al. 2010, Gait Posture 31:241).
"""

from __future__ import annotations

import math

import numpy as np

from gaitsim.metrics._stats import finite_mean


def symmetry_ratio(left: float, right: float) -> float:
    """Symmetry ratio = larger / smaller of the two side means (≥ 1; 1 = symmetric).

    Patterson et al. 2010 (Gait Posture 31:241). NaN unless both values are finite and > 0.
    """
    if not (math.isfinite(left) and math.isfinite(right) and left > 0 and right > 0):
        return math.nan
    return max(left, right) / min(left, right)


def symmetry_index_pct(left: float, right: float) -> float:
    """Symmetry index (%) = (L − R) / (0.5 (L + R)) · 100 (0 = symmetric; + = left larger).

    Robinson, Herzog & Nigg 1987 (J Manipulative Physiol Ther 10:172), with left in place of the
    non-paretic side. NaN when either value is not finite or L + R = 0.
    """
    if not (math.isfinite(left) and math.isfinite(right)) or left + right == 0:
        return math.nan
    return (left - right) / (0.5 * (left + right)) * 100.0


def symmetry(left_values: np.ndarray, right_values: np.ndarray) -> dict[str, float]:
    """Side means and their symmetry: ``{"left", "right", "ratio", "si_pct"}`` (NaN if unknown)."""
    left = finite_mean(left_values)
    right = finite_mean(right_values)
    return {
        "left": left,
        "right": right,
        "ratio": symmetry_ratio(left, right),
        "si_pct": symmetry_index_pct(left, right),
    }

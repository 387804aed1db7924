"""Small NaN-aware reductions shared by the metric modules (no warnings on empty input)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def finite(values: Iterable[float] | np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as a 1-D float array."""
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def finite_mean(values: Iterable[float] | np.ndarray) -> float:
    """Mean of the finite entries; NaN when there are none."""
    arr = finite(values)
    return float(arr.mean()) if arr.size else math.nan


def finite_min(values: Iterable[float] | np.ndarray) -> float:
    """Minimum of the finite entries; NaN when there are none."""
    arr = finite(values)
    return float(arr.min()) if arr.size else math.nan


def finite_max(values: Iterable[float] | np.ndarray) -> float:
    """Maximum of the finite entries; NaN when there are none."""
    arr = finite(values)
    return float(arr.max()) if arr.size else math.nan


def optional(value: float | None) -> float | None:
    """A plain float, or None for None/NaN/inf (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None

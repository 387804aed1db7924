"""Named, bounded parameter vectors and their JSON files.

A parameter set is a mapping name -> value with declared bounds. Files are small JSON documents
in ``controllers/``; loading checks every name and bound and says which one is wrong.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaitsim._io import write_text


@dataclass(frozen=True)
class Param:
    """One parameter: nominal value, bounds and unit (SI; angles in rad)."""

    name: str
    nominal: float
    lower: float
    upper: float
    unit: str = ""


class ParameterError(ValueError):
    """A parameter file or vector is invalid (names the file, the parameter, the bound)."""


def nominal(params: Sequence[Param]) -> np.ndarray:
    """The nominal vector."""
    return np.array([p.nominal for p in params])


def bounds(params: Sequence[Param]) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) vectors."""
    return np.array([p.lower for p in params]), np.array([p.upper for p in params])


def to_unit(params: Sequence[Param], values: np.ndarray) -> np.ndarray:
    """Map values into [0, 1] per parameter (the space the optimiser searches)."""
    lo, hi = bounds(params)
    return (np.asarray(values) - lo) / (hi - lo)


def from_unit(params: Sequence[Param], unit: np.ndarray) -> np.ndarray:
    """Map [0, 1] coordinates back to values, clipped to the bounds."""
    lo, hi = bounds(params)
    return lo + np.clip(np.asarray(unit), 0.0, 1.0) * (hi - lo)


def vector_from_mapping(
    params: Sequence[Param], values: Mapping[str, Any], source: str
) -> np.ndarray:
    """Check a name -> value mapping against ``params`` and return it as a vector."""
    names = [p.name for p in params]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ParameterError(f"{source}: unknown parameter(s) {', '.join(unknown)}")
    missing = [n for n in names if n not in values]
    if missing:
        raise ParameterError(f"{source}: missing parameter(s) {', '.join(missing)}")
    out = []
    for p in params:
        v = values[p.name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ParameterError(f"{source}: {p.name} = {v!r}: must be a finite number")
        if not p.lower <= v <= p.upper:
            allowed = f"{p.lower} <= value <= {p.upper}"
            raise ParameterError(f"{source}: {p.name} = {v!r}: out of range; allowed: {allowed}")
        out.append(float(v))
    return np.array(out)


def mapping_from_vector(params: Sequence[Param], vector: np.ndarray) -> dict[str, float]:
    """Vector -> name -> value (plain floats, JSON-ready)."""
    return {p.name: float(v) for p, v in zip(params, vector, strict=True)}


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON parameter file, with an error naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read parameter file: {exc}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: a parameter file is a JSON object")
    return data


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write JSON atomically (a reader never sees half a file)."""
    return write_text(path, json.dumps(data, indent=2) + "\n")

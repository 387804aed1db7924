"""Course generators: random courses of a given difficulty from a seed, as the elements of a
scenario's course (``[course.generate]`` in a scenario expands through :func:`generate`).

Difficulty d in [0, 1] sets, linearly (modelling choices around the clinical values of
REFERENCES 7):

- the available response time of projected obstacles and targets (ART): 1.2 s at d = 0 to
  0.3 s at d = 1 (foot-obstacle contacts are rare above ~450 ms and rise below it);
- obstacle length: 0.25 to 0.55 leg lengths (lab studies commonly use 0.4; Brandenbarg 2014);
- obstacle spacing: 3-6 nominal steps apart at d = 0, 2-4 at d = 1;
- stepping targets: one per step at the nominal step length scaled by 1 + v z (z standard
  normal, clipped to +-2), v = 0 to 0.2 (an irregular target sequence, Timmermans 2016), and
  target length 0.35 to 0.2 m;
- terrain: curbs and boxes 0.03 to 0.15 m high and ramps of grade 0.02 to 0.08 (ADA's ramp
  limit is 1:12), 4-8 m apart; the ground never goes below its start.

The same generator settings and seed give the same course; every course generated for a
difficulty in range is a valid one (tests/test_courses.py, property tests).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Generator kinds: projected obstacles, stepping targets, physical terrain.
KINDS = ("obstacles", "targets", "terrain")

#: Nominal step length as a fraction of leg length (0.7 m for a 1.75 m adult, whose leg is
#: 0.93 m: Winter 2009 hip height 0.530 H; REFERENCES 6 step length 0.65-0.75 m).
STEP_PER_LEG = 0.75


def _lerp(a: float, b: float, d: float) -> float:
    return a + (b - a) * d


def generate(
    kind: str,
    difficulty: float,
    count: int,
    seed: int,
    leg_length_m: float,
    start_m: float = 3.0,
    response_time_s: float | None = None,
    obstacle_length_leg: float | None = None,
) -> list[dict[str, Any]]:
    """``count`` course elements (TOML-shaped dicts) of ``kind`` from ``start_m`` on;
    ``response_time_s`` and ``obstacle_length_leg`` replace what the difficulty sets (a
    protocol that fixes one of them, e.g. obstacles of 0.4 leg lengths)."""
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r}: allowed: {', '.join(KINDS)}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty = {difficulty!r}: allowed: 0 <= value <= 1")
    if count < 1:
        raise ValueError(f"count = {count!r}: allowed: count >= 1")
    rng = np.random.default_rng(seed)
    d = float(difficulty)
    step = STEP_PER_LEG * leg_length_m
    art = round(_lerp(1.2, 0.3, d) if response_time_s is None else response_time_s, 3)
    x = float(start_m)
    out: list[dict[str, Any]] = []
    if kind == "obstacles":
        fraction = _lerp(0.25, 0.55, d) if obstacle_length_leg is None else obstacle_length_leg
        length = round(fraction * leg_length_m, 3)
        lo, hi = _lerp(3.0, 2.0, d), _lerp(6.0, 4.0, d)
        for _ in range(count):
            out.append(
                {
                    "kind": "obstacle",
                    "at_m": round(x, 3),
                    "length_m": length,
                    "response_time_s": art,
                }
            )
            x += length + float(rng.uniform(lo, hi)) * step
    elif kind == "targets":
        length = round(_lerp(0.35, 0.2, d), 3)
        spread = _lerp(0.0, 0.2, d)
        for _ in range(count):
            out.append(
                {"kind": "target", "at_m": round(x, 3), "length_m": length, "response_time_s": art}
            )
            z = float(np.clip(rng.standard_normal(), -2.0, 2.0))
            x += step * (1.0 + spread * z)
    else:
        height = _lerp(0.03, 0.15, d)
        grade = _lerp(0.02, 0.08, d)
        level = 0.0
        for _ in range(count):
            choice = int(rng.integers(3))
            if choice == 0:  # a curb: up from the start level, else down back to it
                h = round(height, 3) if level <= 1e-9 else -level
                out.append({"kind": "curb", "at_m": round(x, 3), "height_m": h})
                level = 0.0 if h < 0 else level + h
            elif choice == 1:
                out.append(
                    {
                        "kind": "box",
                        "at_m": round(x, 3),
                        "length_m": round(0.2 * leg_length_m, 3),
                        "height_m": round(height, 3),
                    }
                )
                x += 0.2 * leg_length_m
            else:  # a 2 m ramp, uphill from the start level, else downhill towards it
                # downhill never past the start level: rounded towards zero
                g = (
                    round(grade, 4)
                    if level <= 1e-9
                    else -math.floor(min(grade, level / 2) * 1e4) / 1e4
                )
                out.append({"kind": "slope", "at_m": round(x, 3), "length_m": 2.0, "grade": g})
                level += g * 2.0
                x += 2.0
            x += float(rng.uniform(4.0, 8.0))
    return out

"""The ground of an overground course: the physical elements (curb, box, slope, stairs,
uneven patch) as a height profile, built into the model as static boxes.

The profile is a sorted list of :class:`Piece` (x0, x1, z0, z1): the ground's top surface
from ``x0`` to ``x1`` rises linearly from ``z0`` to ``z1`` (flat where they are equal); steps
are where one piece ends at another height than the next begins. Before the first element
and after the last one the ground is flat (at the height it reached). One profile serves
model assembly, the fall check (pelvis height above the ground under it) and the video.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

#: The ground continues this far (m) past the last physical element at its last height.
RUN_OUT_M = 100.0
#: Half width (m) of the course geoms across the walk (the model is sagittal).
HALF_WIDTH_M = 0.4
#: Thickness (m) of a ramp's slab.
RAMP_THICKNESS_M = 0.05
#: Name prefix of course geoms.
GEOM_PREFIX = "course/"


@dataclass(frozen=True)
class Piece:
    """The ground's top from x0 to x1, linear from z0 to z1 (m)."""

    x0: float
    x1: float
    z0: float
    z1: float


def extent(e: Any) -> float:
    """How far (m) a physical or projected element reaches along the walk from ``at_m``."""
    if e.kind == "curb":
        return 0.0
    if e.kind == "stairs":
        return e.steps * e.tread_m
    return float(e.length_m)


def ground_profile(elements: Sequence[Any]) -> tuple[Piece, ...]:
    """The ground of the physical ``elements`` (spec course elements; virtual ones are left
    out). Raises ValueError naming the element when two overlap or when the ground would go
    below its start level (there is no pit under the floor plane)."""
    physical = sorted(
        ((e.at_m, i, e) for i, e in enumerate(elements) if e.physical), key=lambda t: t[:2]
    )
    pieces: list[Piece] = []
    x, z = 0.0, 0.0
    last: tuple[int, Any] | None = None
    for at, i, e in physical:
        if at < x - 1e-9 and last is not None:
            raise ValueError(
                f"elements[{i}] ({e.kind} at {at:g} m) overlaps elements[{last[0]}] "
                f"({last[1].kind} from {last[1].at_m:g} to {x:g} m)"
            )
        if at > x:
            pieces.append(Piece(x, at, z, z))
        x = at
        if e.kind == "curb":
            z += e.height_m
        elif e.kind == "box":
            pieces.append(Piece(x, x + e.length_m, z + e.height_m, z + e.height_m))
            x += e.length_m
        elif e.kind == "slope":
            pieces.append(Piece(x, x + e.length_m, z, z + e.grade * e.length_m))
            x, z = x + e.length_m, z + e.grade * e.length_m
        elif e.kind == "stairs":
            for _ in range(e.steps):
                z += e.rise_m
                if z < -1e-9:
                    break
                pieces.append(Piece(x, x + e.tread_m, z, z))
                x += e.tread_m
        elif e.kind == "uneven":
            rng = np.random.default_rng(e.seed)
            n = max(1, math.ceil(e.length_m / e.tile_m - 1e-9))
            edges = np.linspace(x, x + e.length_m, n + 1)
            heights = rng.uniform(0, e.amplitude_m, n)
            for a, b, h in zip(edges[:-1], edges[1:], heights, strict=True):
                pieces.append(Piece(float(a), float(b), z + float(h), z + float(h)))
            x += e.length_m
        if z < -1e-9:
            raise ValueError(
                f"elements[{i}] ({e.kind} at {at:g} m) takes the ground {-z:.3g} m below its "
                "start level; allowed: a ground at or above the start (step up first)"
            )
        last = (i, e)
    if pieces or z:
        pieces.append(Piece(x, x + RUN_OUT_M, z, z))
    return tuple(pieces)


def ground_height(profile: Sequence[Piece], x: Any) -> Any:
    """Ground height (m) under ``x`` (scalar or array): 0 before the profile, its last height
    after it."""
    xs = np.asarray(x, float)
    if not profile:
        return np.zeros_like(xs) if xs.ndim else 0.0
    x0 = np.array([p.x0 for p in profile])
    x1 = np.array([p.x1 for p in profile])
    z0 = np.array([p.z0 for p in profile])
    z1 = np.array([p.z1 for p in profile])
    k = np.clip(np.searchsorted(x0, xs, side="right") - 1, 0, len(profile) - 1)
    frac = np.clip((xs - x0[k]) / np.maximum(x1[k] - x0[k], 1e-12), 0.0, 1.0)
    z = np.where(xs < x0[0], 0.0, z0[k] + frac * (z1[k] - z0[k]))
    return z if xs.ndim else float(z)


def add_terrain(spec: mujoco.MjSpec, profile: Sequence[Piece], ground: dict[str, Any]) -> None:
    """Static boxes on the world body for every piece above the floor plane, with the
    floor's contact settings (``ground``): flat pieces as boxes standing on the floor,
    sloped ones as slabs whose top is the ramp."""
    for n, p in enumerate(profile):
        if max(p.z0, p.z1) <= 0.0:
            continue
        name = f"{GEOM_PREFIX}{n}"
        if p.z0 == p.z1:
            spec.worldbody.add_geom(
                name=name,
                type=mujoco.mjtGeom.mjGEOM_BOX,
                size=[(p.x1 - p.x0) / 2, HALF_WIDTH_M, p.z0 / 2],
                pos=[(p.x0 + p.x1) / 2, 0.0, p.z0 / 2],
                **ground,
            )
            continue
        angle = math.atan2(p.z1 - p.z0, p.x1 - p.x0)
        half = math.hypot(p.x1 - p.x0, p.z1 - p.z0) / 2
        # the slab's top face is the ramp: its centre lies half a thickness below the
        # ramp's midpoint, along the ramp's normal (-sin, cos)
        cx = (p.x0 + p.x1) / 2 + math.sin(angle) * RAMP_THICKNESS_M / 2
        cz = (p.z0 + p.z1) / 2 - math.cos(angle) * RAMP_THICKNESS_M / 2
        spec.worldbody.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[half, HALF_WIDTH_M, RAMP_THICKNESS_M / 2],
            pos=[cx, 0.0, cz],
            # a rotation about +y by -angle raises the +x end (MuJoCo quaternion w, x, y, z)
            quat=[math.cos(-angle / 2), 0.0, math.sin(-angle / 2), 0.0],
            **ground,
        )

"""Crafted traces for course scoring and cue tests: feet placed where a test says."""

from __future__ import annotations

from typing import Any

import numpy as np

from gaitsim import spec
from gaitsim.sim.trace import Event, Trace

FOOT_M = 0.25
MASS_KG = 75.0


def crafted(
    steps: list[tuple[str, float, float, float]],
    elements: list[dict[str, Any]],
    duration_s: float,
    speed_m_s: float = 1.0,
    events: tuple[Event, ...] = (),
    treadmill_speed_m_s: float | None = None,
    reason: str = "completed",
) -> Trace:
    """A trace whose feet stand flat with the heel at x from strike to toe-off for each
    (side, strike_s, toe_off_s, heel_x) and are 10 cm up otherwise; the pelvis moves at
    ``speed_m_s`` (over the belt, on a treadmill)."""
    dt = 0.005
    t = np.arange(0.0, duration_s, dt)
    n = len(t)
    ch: dict[str, np.ndarray] = {}
    belt = None
    if treadmill_speed_m_s is not None:
        belt = -treadmill_speed_m_s * t
        ch["belt_pos_m"] = belt
        ch["belt_velocity_m_s"] = np.full(n, -treadmill_speed_m_s)
    shift = np.zeros(n) if belt is None else belt  # world = along the belt + belt
    for side in ("left", "right"):
        heel = np.zeros((n, 3))
        heel[:, 2] = 0.1
        grf = np.zeros((n, 3))
        cop = np.zeros((n, 3))
        mine = sorted((s for s in steps if s[0] == side), key=lambda s: s[1])
        x_now = 0.0
        for _, t0, t1, x in mine:
            on = (t >= t0) & (t < t1)
            heel[on, 0] = x
            heel[on, 2] = 0.0
            grf[on, 2] = 0.8 * MASS_KG * 9.81
            cop[on, 0] = x + FOOT_M / 2
            x_now = x
        # in swing the foot hovers at its last landing (enough for scoring)
        swing = heel[:, 2] > 0
        last = np.maximum.accumulate(np.where(~swing, np.arange(n), 0))
        heel[swing, 0] = np.where(last[swing] > 0, heel[last[swing], 0], x_now * 0)
        heel[:, 0] += shift
        cop[:, 0] = np.where(grf[:, 2] > 0, cop[:, 0] + shift, 0.0)
        toe = heel.copy()
        toe[:, 0] += FOOT_M
        ch[f"heel_{side}_pos_m"], ch[f"toe_{side}_pos_m"] = heel, toe
        ch[f"grf_{side}_n"], ch[f"cop_{side}_m"] = grf, cop
    pelvis = np.zeros((n, 3))
    pelvis[:, 0] = speed_m_s * t + shift
    pelvis[:, 2] = 0.9
    ch["pelvis_pos_m"] = pelvis
    course: dict[str, Any] = {"elements": elements}
    if treadmill_speed_m_s is not None:
        course.update(kind="treadmill", belt_speed_m_s=treadmill_speed_m_s)
    scenario = spec.to_dict(spec.from_dict({"course": course}))
    meta = {
        "scenario": scenario,
        "body": {"mass_kg": MASS_KG, "height_m": 1.75, "leg_length_m": 0.9},
        "record_step_s": dt,
        "termination": {"reason": reason, "time_s": float(t[-1])},
    }
    return Trace(t, ch, events, meta)


def walk(n_steps: int, step_m: float = 0.6, step_s: float = 0.55, start_s: float = 0.5):
    """Alternating steps (left first), heel x = k step_m, stance 0.65 s each."""
    out = []
    for k in range(n_steps):
        side = "left" if k % 2 == 0 else "right"
        t0 = start_s + k * step_s
        out.append((side, t0, t0 + 0.65, k * step_m))
    return out

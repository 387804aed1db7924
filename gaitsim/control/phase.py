"""Gait phase from insole load, as assist controllers estimate it on the device's sensors.

Per side: heel strike is the foot's load rising above ``ON_BW`` body weights after it was
below ``OFF_BW`` (hysteresis); the phase is the time since that side's last heel strike over
the mean of its last three stride times (the running average of MyoAssist's exoskeleton
controllers and of human-in-the-loop ankle profiles, Zhang et al. 2017), held at 1 when a
stride runs long. Before a stride has been timed, the stride time is ``DEFAULT_STRIDE_S``.
``timed`` counts the strides measured: a controller waits for ``HISTORY`` of them before it
trusts the phase.
"""

from __future__ import annotations

import jax.numpy as jnp

#: Load thresholds (body weights): stance begins above 0.1 BW (Song & Geyer 2015's leg-load
#: threshold, as the patient's own controller) and ends below 0.05 BW.
ON_BW, OFF_BW = 0.1, 0.05
#: Stride time assumed before one has been measured (s); healthy walking at 1.25 m/s.
DEFAULT_STRIDE_S = 1.1
#: Strides shorter or longer than this (s) are not gait (a stumble, a stop) and not averaged.
STRIDE_RANGE_S = (0.4, 3.0)
HISTORY = 3


def init() -> dict:
    return {
        "loaded": jnp.ones(2, jnp.float32),
        "since_strike_s": jnp.zeros(2, jnp.float32),
        "strides_s": jnp.full((2, HISTORY), DEFAULT_STRIDE_S, jnp.float32),
        "timed": jnp.zeros(2, jnp.float32),  # strides measured so far
    }


def update(state: dict, foot_load_n: jnp.ndarray, body_weight_n: jnp.ndarray, dt: float):
    """(new state, phase per side in [0, 1], heel strike this tick per side)."""
    load = foot_load_n / body_weight_n
    t = state["since_strike_s"] + dt
    strike = (state["loaded"] < 0.5) & (load > ON_BW)
    loaded = jnp.where(load > ON_BW, 1.0, jnp.where(load < OFF_BW, 0.0, state["loaded"]))
    lo, hi = STRIDE_RANGE_S
    counts = strike & (t >= lo) & (t <= hi)
    rolled = jnp.concatenate([t[:, None], state["strides_s"][:, :-1]], axis=1)
    strides = jnp.where(counts[:, None], rolled, state["strides_s"])
    timed = state["timed"] + counts
    # the mean of the strides timed so far (the defaults fill the rest until then)
    mean = jnp.sum(strides, axis=1) / HISTORY
    t = jnp.where(strike, 0.0, t)
    phase = jnp.clip(t / mean, 0.0, 1.0)
    new = {"loaded": loaded, "since_strike_s": t, "strides_s": strides, "timed": timed}
    return new, phase, strike

"""What a learned policy sees of the device: chosen measurements scaled to order one.

One definition serves the Gymnasium environment (the agent's observation), the ``policy``
device controller (the same policy in a simulation, in ``gaitsim compare`` and on the robot)
and ``gaitsim export``, so a deployed policy sees exactly what it was trained on.

Scales per signal (the names of ``gaitsim.sim.device.device_layout``): angles in rad as they
are; rates (rad/s) times :data:`RATE_SCALE`; motor torques over each motor's peak torque; foot
loads over the wearer's body weight; EMG envelopes as they are (fractions of maximum). The
last ``history`` device ticks are stacked, newest first; the first tick of a run fills the
whole history.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gaitsim import constants as C

#: Rates in rad/s are of order 10 in walking: this brings them to order one.
RATE_SCALE = 0.1


def feature_scale(
    signals: Sequence[str],
    layout: Sequence[tuple[str, int]],
    peak_torque_nm: np.ndarray,
    mass_kg: float,
) -> np.ndarray:
    """Per-element scale (float32) of the ``signals``, concatenated in that order, for a
    device of measurement ``layout`` with motors of ``peak_torque_nm`` on a wearer of
    ``mass_kg``. Raises ``ValueError`` naming a signal the layout does not have."""
    sizes = dict(layout)
    missing = [s for s in signals if s not in sizes]
    if missing:
        raise ValueError(
            f"signals {missing}: the device does not measure them; it measures "
            f"{', '.join(sizes)} (EMG needs device.sensing.emg = true)"
        )
    body_weight_n = mass_kg * C.G_M_S2
    out = []
    for name in signals:
        n = sizes[name]
        if name == "motor_torque_nm":
            scale = 1.0 / np.asarray(peak_torque_nm, float)
        elif name == "foot_load_n":
            scale = np.full(n, 1.0 / body_weight_n)
        elif name.endswith("_rad_s"):
            scale = np.full(n, RATE_SCALE)
        else:
            scale = np.ones(n)
        out.append(scale)
    return np.concatenate(out).astype(np.float32)

"""Read-outs of a compiled body: moment arms and normalised fibre lengths at a posture."""

from __future__ import annotations

import mujoco
import numpy as np


def _tendon_lengths(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_fwdPosition(model, data)
    return data.ten_length.copy()


def moment_arms(
    model: mujoco.MjModel, qpos: np.ndarray, joint: str, step_rad: float = 1e-5
) -> dict[str, float]:
    """Moment arm (m) of every tendon about ``joint`` at ``qpos``: r = -dL/dq (central difference).

    Positive means the muscle's pull moves the joint in its positive (clinical) direction:
    hip flexion, knee flexion, ankle dorsiflexion. Tendons not crossing the joint give 0.
    """
    adr = model.jnt_qposadr[model.joint(joint).id]
    up, down = np.array(qpos, float), np.array(qpos, float)
    up[adr] += step_rad
    down[adr] -= step_rad
    r = -(_tendon_lengths(model, up) - _tendon_lengths(model, down)) / (2 * step_rad)
    return {model.tendon(i).name: float(r[i]) for i in range(model.ntendon)}


def normalised_fibre_lengths(model: mujoco.MjModel, qpos: np.ndarray) -> dict[str, float]:
    """Each muscle's fibre length / L0 at ``qpos`` from MuJoCo's lengthrange mapping."""
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_fwdPosition(model, data)
    out = {}
    for i in range(model.nu):
        r0, r1 = model.actuator_gainprm[i, 0:2]
        lo, hi = model.actuator_lengthrange[i]
        l0 = (hi - lo) / (r1 - r0)
        tendon = lo - r0 * l0
        out[model.actuator(i).name] = float((data.actuator_length[i] - tendon) / l0)
    return out

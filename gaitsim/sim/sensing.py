"""What the simulated body measures: indices resolved once, foot contact forces, and the
muscle-level measurements the patient's neural controller observes.

Measurements are plain dicts of named arrays with units in the names; the same dict shape is
what a hardware interface's ``read()`` returns for device sensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from gaitsim import constants as C


@dataclass(frozen=True)
class BodyIndex:
    """Model indices of the things sensing and recording read, resolved once per model."""

    qpos: dict[str, int]  # joint name -> qpos address
    dof: dict[str, int]  # joint name -> dof address
    pelvis_body: int
    foot_geoms: dict[str, frozenset[int]]  # side -> contact geom ids
    heel_geom: dict[str, int]
    toe_geom: dict[str, int]
    segment_body: dict[tuple[str, str], int]  # (segment, side) -> body id


def body_index(model: mujoco.MjModel) -> BodyIndex:
    """Resolve the names of ``gaitsim.constants`` in ``model``."""
    joints = ["pelvis_x", "pelvis_z", "pelvis_pitch"] + [
        C.joint_name(j, s) for s in C.SIDES for j in C.JOINTS
    ]
    qpos = {j: int(model.jnt_qposadr[model.joint(j).id]) for j in joints}
    dof = {j: int(model.jnt_dofadr[model.joint(j).id]) for j in joints}
    heel = {s: model.geom(C.model_name("heel", s)).id for s in C.SIDES}
    toe = {s: model.geom(C.model_name("toe", s)).id for s in C.SIDES}
    feet = {}
    for side in C.SIDES:
        foot = model.body(C.model_name("foot", side)).id
        feet[side] = frozenset(
            int(g) for g in np.flatnonzero(model.geom_bodyid == foot) if model.geom_contype[g]
        )
    segments = {
        (seg, s): model.body(C.model_name(seg, s)).id
        for seg in ("thigh", "shank", "foot")
        for s in C.SIDES
    }
    return BodyIndex(qpos, dof, model.body("pelvis").id, feet, heel, toe, segments)


def foot_forces(
    model: mujoco.MjModel, data: mujoco.MjData, index: BodyIndex
) -> dict[str, np.ndarray]:
    """Summed contact force the ground exerts on each foot, world frame (N), per side."""
    out = {side: np.zeros(3) for side in C.SIDES}
    f6 = np.zeros(6)
    for i in range(data.ncon):
        contact = data.contact[i]
        for side, geoms in index.foot_geoms.items():
            if contact.geom2 in geoms:
                sign = 1.0  # MuJoCo's normal points from geom1 to geom2
            elif contact.geom1 in geoms:
                sign = -1.0
            else:
                continue
            mujoco.mj_contactForce(model, data, i, f6)
            out[side] += sign * (contact.frame.reshape(3, 3).T @ f6[:3])
    return out


def patient_measurements(
    model: mujoco.MjModel, data: mujoco.MjData, index: BodyIndex
) -> dict[str, np.ndarray]:
    """Muscle-level signals for the neural controller (Geyer & Herr 2010 sensory inputs)."""
    feet = foot_forces(model, data, index)
    pitch = index.qpos["pelvis_pitch"]
    return {
        "muscle_length_m": data.actuator_length.copy(),
        "muscle_velocity_m_s": data.actuator_velocity.copy(),
        "muscle_force_n": -data.actuator_force.copy(),  # MuJoCo muscle force is negative (pull)
        "foot_load_left_n": np.array(feet["left"][2]),
        "foot_load_right_n": np.array(feet["right"][2]),
        "trunk_pitch_rad": np.array(data.qpos[pitch]),
        "trunk_pitch_rate_rad_s": np.array(data.qvel[index.dof["pelvis_pitch"]]),
    }

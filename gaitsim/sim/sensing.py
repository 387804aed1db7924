"""What the simulated body measures: indices resolved once, foot contact forces, and the
muscle-level measurements the patient's neural controller observes.

Measurements are plain dicts of named arrays with units in the names; the same dict shape is
what the planned hardware interface's ``read()`` is to return for device sensors. On the hot
path they travel packed into one vector in :data:`PATIENT_LAYOUT` order (a jitted call costs
per argument).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.model.assemble import BELT_JOINT, FOOT_VERTICAL_FORCE, belt_speed_m_s

#: Patient measurements in packed order: (name, size). Joint entries run over sides then
#: joints (left hip, knee, ankle, right hip, knee, ankle); side entries are (left, right).
PATIENT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("muscle_length_m", 2 * len(C.MUSCLES)),
    ("muscle_velocity_m_s", 2 * len(C.MUSCLES)),
    ("muscle_force_n", 2 * len(C.MUSCLES)),
    ("joint_angle_rad", 2 * len(C.JOINTS)),
    ("joint_velocity_rad_s", 2 * len(C.JOINTS)),
    ("foot_load_n", 2),
    ("trunk_pitch_rad", 1),
    ("trunk_pitch_rate_rad_s", 1),
    ("pelvis_velocity_m_s", 1),
)


def layout_slices(layout: tuple[tuple[str, int], ...]) -> dict[str, slice]:
    """Name -> slice of a packed vector."""
    out, start = {}, 0
    for name, size in layout:
        out[name] = slice(start, start + size)
        start += size
    return out


@dataclass(frozen=True)
class BodyIndex:
    """Model indices of the things sensing and recording read, resolved once per model."""

    qpos: dict[str, int]  # joint name -> qpos address
    dof: dict[str, int]  # joint name -> dof address
    pelvis_body: int
    heel_geom: dict[str, int]
    toe_geom: dict[str, int]  # toe tip
    contact_geoms: tuple[int, ...]  # every foot contact sphere (heel, ball, toe per side)
    segment_body: dict[tuple[str, str], int]  # (segment, side) -> body id
    foot_sensor: dict[str, int]  # side -> sensordata address of the foot contact sensor
    leg_qpos: np.ndarray  # qpos addresses in joint_angle_rad order
    leg_dof: np.ndarray  # dof addresses in joint_velocity_rad_s order
    sense: np.ndarray  # sensordata addresses of the patient measurements, layout order
    sense_sign: np.ndarray  # their signs (float32; measurements come out float32)
    belt_qpos: int | None = None  # the treadmill belt's slide joint, if any
    belt_dof: int | None = None
    belt_speed_m_s: float = 0.0  # it runs backwards at this speed


def body_index(model: mujoco.MjModel) -> BodyIndex:
    """Resolve the names of ``gaitsim.constants`` in ``model``."""
    legs = [C.joint_name(j, s) for s in C.SIDES for j in C.JOINTS]
    joints = ["pelvis_x", "pelvis_z", "pelvis_pitch", *legs]
    qpos = {j: int(model.jnt_qposadr[model.joint(j).id]) for j in joints}
    dof = {j: int(model.jnt_dofadr[model.joint(j).id]) for j in joints}
    heel = {s: model.geom(C.model_name("heel", s)).id for s in C.SIDES}
    toe = {s: model.geom(C.model_name("toe", s)).id for s in C.SIDES}
    contacts = tuple(
        model.geom(C.model_name(part, s)).id for s in C.SIDES for part in ("heel", "ball", "toe")
    )
    segments = {
        (seg, s): model.body(C.model_name(seg, s)).id for seg in C.LEG_SEGMENTS for s in C.SIDES
    }
    sensors = {
        s: int(model.sensor_adr[model.sensor(C.model_name("foot_grf", s)).id]) for s in C.SIDES
    }
    return BodyIndex(
        qpos,
        dof,
        model.body("pelvis").id,
        heel,
        toe,
        contacts,
        segments,
        sensors,
        np.array([qpos[j] for j in legs]),
        np.array([dof[j] for j in legs]),
        *_sensor_addresses(model),
        *_belt(model),  # type: ignore[arg-type]  # (qpos, dof, speed): mypy cannot split it
    )


def _belt(model: mujoco.MjModel) -> tuple[int | None, int | None, float]:
    speed = belt_speed_m_s(model)
    if speed is None:
        return None, None, 0.0
    joint = model.joint(BELT_JOINT).id
    return int(model.jnt_qposadr[joint]), int(model.jnt_dofadr[joint]), speed


def _sensor_addresses(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    """sensordata addresses in :data:`PATIENT_LAYOUT` order, and the sign of each entry."""

    def adr(name: str) -> int:
        return int(model.sensor_adr[model.sensor(name).id])

    muscles = [C.muscle_name(m, s) for s in C.SIDES for m in C.MUSCLES]
    joints = [C.joint_name(j, s) for s in C.SIDES for j in C.JOINTS]
    by_name = {
        "muscle_length_m": [adr(f"sense/length/{m}") for m in muscles],
        "muscle_velocity_m_s": [adr(f"sense/velocity/{m}") for m in muscles],
        "muscle_force_n": [adr(f"sense/force/{m}") for m in muscles],
        "joint_angle_rad": [adr(f"sense/angle/{j}") for j in joints],
        "joint_velocity_rad_s": [adr(f"sense/rate/{j}") for j in joints],
        "foot_load_n": [adr(C.model_name("foot_grf", s)) + FOOT_VERTICAL_FORCE for s in C.SIDES],
        "trunk_pitch_rad": [adr("sense/angle/pelvis_pitch")],
        "trunk_pitch_rate_rad_s": [adr("sense/rate/pelvis_pitch")],
        "pelvis_velocity_m_s": [adr("sense/rate/pelvis_x")],
    }
    gather = np.concatenate([by_name[name] for name, _ in PATIENT_LAYOUT])
    # MuJoCo reports a muscle's force as negative (it pulls); tension is positive here
    sign = np.concatenate(
        [np.full(n, -1.0 if name == "muscle_force_n" else 1.0) for name, n in PATIENT_LAYOUT]
    ).astype(np.float32)
    return gather, sign


def measure(sensordata: np.ndarray, index: BodyIndex) -> np.ndarray:
    """The packed patient measurements (:data:`PATIENT_LAYOUT`, float32) from sensordata.

    Works on one simulation's sensordata or on a batch's (members on the leading axis): one
    gather serves the single and the batched simulation.
    """
    # float32 out: what the jitted controllers take, so JAX converts nothing per call
    return np.multiply(sensordata[..., index.sense], index.sense_sign, dtype=np.float32)


def unpack(vector, layout: tuple[tuple[str, int], ...] = PATIENT_LAYOUT) -> dict:
    """Name -> slice view of a packed vector (:func:`measure`); NumPy and JAX arrays alike."""
    return {name: vector[..., sl] for name, sl in layout_slices(layout).items()}

"""Initial states (standing, or a gait posture with forward speed placed on the ground) and the
end criteria every run, single or batched, shares: a fall, or any MuJoCo warning (MuJoCo resets
a blown-up state itself, so its warning counters are the record of the blow-up)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.model.devices import module_name
from gaitsim.sim.sensing import BodyIndex

#: Perturbation of the initial state per seed (std of angles, rad; of speed, m/s) for
#: ``gaitsim compare`` and the environments' episodes: the walking tests' values.
ANGLE_NOISE_RAD, SPEED_NOISE_M_S = 0.02, 0.05


@dataclass(frozen=True)
class FallLimits:
    """A fall: pelvis below a fraction of standing hip height, or trunk pitch beyond a limit.

    One definition for ``simulate``, the batched rollouts and the vector environment; works on
    one qpos (nq,) or on a batch's (N, nq), with per-member heights as (N,) arrays where the
    members' bodies differ.
    """

    pelvis_z_qpos: int
    pitch_qpos: int
    pelvis_rest_z_m: float | np.ndarray
    min_pelvis_z_m: float | np.ndarray
    max_pitch_rad: float

    @classmethod
    def of(
        cls, built: Any, index: BodyIndex, height_fraction: float, pitch_rad: float
    ) -> FallLimits:
        return cls(
            index.qpos["pelvis_z"],
            index.qpos["pelvis_pitch"],
            float(built.model.body_pos[index.pelvis_body, 2]),
            height_fraction * built.leg_length_m,
            pitch_rad,
        )

    def height_m(self, qpos: np.ndarray) -> np.ndarray:
        return self.pelvis_rest_z_m + qpos[..., self.pelvis_z_qpos]

    def fallen(self, qpos: np.ndarray) -> np.ndarray:
        return (self.height_m(qpos) < self.min_pelvis_z_m) | (
            np.abs(qpos[..., self.pitch_qpos]) > self.max_pitch_rad
        )


@contextmanager
def quiet_mujoco_warnings() -> Iterator[list[str]]:
    """Collect MuJoCo's printed warnings instead of writing them to stdout (keeps --json clean).

    The warning counters in MjData (``warning[i].number``; a batch's ``warning[..., 1]``) still
    record them, and every run ends on them.
    """
    texts: list[str] = []
    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda msg: texts.append(str(msg).strip()))
    try:
        yield texts
    finally:
        mujoco.set_mju_user_warning(previous)


#: Height of the lowest contact sphere above the ground at the start (m). Slightly negative:
#: the stance foot starts at about its static penetration, loaded from the first instant, so
#: the controller's first tick sees it in stance (a foot dropped from 1 mm reads as lifted).
GROUND_CLEARANCE_M = -0.0001


def _lowest_contact_z(model: mujoco.MjModel, data: mujoco.MjData, index: BodyIndex) -> float:
    mujoco.mj_kinematics(model, data)
    return float(min(data.geom_xpos[g, 2] - model.geom_size[g, 0] for g in index.contact_geoms))


def gait_state(
    model: mujoco.MjModel, index: BodyIndex, values: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """(qpos, qvel) from named initial-state values (``gaitsim.neural.controller.INITIAL_STATE``).

    Joint angles and trunk pitch are set (a device module's link at its joint's angle, so the
    cuffs start unstrained), the body is lowered until its lowest contact sphere is at
    ``GROUND_CLEARANCE_M``, and everything moves forward at the speed (over a treadmill's belt,
    which starts at its own speed).
    """
    data = mujoco.MjData(model)
    data.qpos[index.qpos["pelvis_pitch"]] = values["trunk_pitch_rad"]
    modules = {model.joint(j).name for j in range(model.njnt)}
    for side in C.SIDES:
        for joint in C.JOINTS:
            angle = values[f"{side}_{joint}_rad"]
            data.qpos[index.qpos[C.joint_name(joint, side)]] = angle
            if module_name(joint, side) in modules:
                data.qpos[model.jnt_qposadr[model.joint(module_name(joint, side)).id]] = angle
    data.qpos[index.qpos["pelvis_z"]] = GROUND_CLEARANCE_M - _lowest_contact_z(model, data, index)
    # on a treadmill the speed is over the belt, which already runs
    data.qvel[index.dof["pelvis_x"]] = values["pelvis_velocity_m_s"] - index.belt_speed_m_s
    if index.belt_dof is not None:
        data.qvel[index.belt_dof] = -index.belt_speed_m_s
    return data.qpos.copy(), data.qvel.copy()


#: Fixed-point iterations of :func:`settle_activation`.
SETTLE_ITERATIONS = 5


def settle_activation(
    forward: Callable[[], None],
    excitation_now: Callable[[], np.ndarray],
    act: np.ndarray,
    iterations: int = SETTLE_ITERATIONS,
) -> None:
    """Start the muscles at the activation their controller holds them at, not at zero.

    A model released with zero activation drops onto its stance leg before any muscle can
    act (activation takes 10-40 ms), which no reflex controller survives. A few fixed-point
    iterations ``act = excitation(state(act))`` with the controller's fresh state give the
    muscles the tone of an ongoing gait at the initial posture. ``act`` is written in place.
    """
    for _ in range(iterations):
        forward()
        act[...] = excitation_now()
    forward()


def perturbed(
    values: Mapping[str, float],
    angle_std_rad: float,
    speed_std_m_s: float,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Initial-state values with seeded Gaussian noise on every angle and on the speed."""
    out = {}
    for name, value in values.items():
        std = speed_std_m_s if name.endswith("_m_s") else angle_std_rad
        out[name] = float(value + std * rng.standard_normal())
    return out

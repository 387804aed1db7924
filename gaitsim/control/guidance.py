"""Guidance along reference trajectories: impedance control and path control, 0-100 %.

``impedance`` (Riener et al. 2005, IEEE TNSRE 13:380, the Lokomat's patient-cooperative
impedance control): each joint is pulled towards the reference of
:mod:`gaitsim.control.reference` by a spring-damper, the reference running at its own stride
time (fixed timing, as on a treadmill at set speed). ``path`` (Duschau-Wicke et al. 2010,
IEEE TNSRE 18:38): the reference is a path, not a timing; each leg's phase is the nearest
point of its hip-knee path ahead of where it was, the torque is zero inside a tunnel of
half-width ``tunnel_rad`` around the path and a spring outside it, and an optional supportive
torque pushes along the path. In both, ``guidance`` in [0, 1] scales the spring-damper (0: none,
1: the configured stiffness, "100 % guidance"), and the device's own losses are compensated
underneath as in transparent mode.

The starting phase is the one whose reference posture is nearest the measured one at the first
tick; the right leg runs half a stride behind the left. Stiffness, damping and tunnel width
are modelling choices (the Lokomat's gains were not found published).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jax
import jax.numpy as jnp
from pydantic import Field

from gaitsim import constants as C
from gaitsim.control import reference, transparent
from gaitsim.control.config import ControllerConfig, DeviceContext
from gaitsim.control.interface import Controller

Stiffness = Annotated[float, Field(ge=0.0, le=5000.0)]
Damping = Annotated[float, Field(ge=0.0, le=500.0)]

#: Phases searched for the nearest reference point (per stride).
SEARCH = 200
#: How far ahead of its last phase a leg's path phase may jump in one tick (path mode).
AHEAD = 0.1


class Config(ControllerConfig):
    """``kind = "guidance"``."""

    mode: Literal["impedance", "path"] = "impedance"
    guidance: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    hip_stiffness_nm_rad: Stiffness = 400.0
    knee_stiffness_nm_rad: Stiffness = 300.0
    ankle_stiffness_nm_rad: Stiffness = 150.0
    hip_damping_nms_rad: Damping = 15.0
    knee_damping_nms_rad: Damping = 10.0
    ankle_damping_nms_rad: Damping = 5.0
    #: reference walking speed; None: the treadmill's belt speed (1.0 m/s overground)
    speed_m_s: Annotated[float, Field(gt=0.0, le=3.0)] | None = None
    #: the reference's stride time (s), as a therapist sets the trainer's cadence; None: from
    #: speed and height (gaitsim.control.reference). The hip's excursion follows the stride
    #: length this gives (speed x stride time), see reference.hip_scale.
    stride_time_s: Annotated[float, Field(gt=0.3, le=5.0)] | None = None
    tunnel_rad: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    support_nm: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    compensation: transparent.Config = transparent.Config()


def reference_angles(
    phase: jnp.ndarray, joint: jnp.ndarray, hip_scale: jnp.ndarray
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Reference angle and rate per unit phase of modules on joints ``joint`` (0 hip, 1 knee,
    2 ankle) at ``phase`` (broadcasting), the hip's excursion scaled by ``hip_scale``."""
    values = [reference.angle(j, phase, hip_scale if j == "hip" else 1.0) for j in C.JOINTS]
    angle = jnp.select([joint == k for k in range(3)], [v for v, _ in values])
    rate = jnp.select([joint == k for k in range(3)], [r for _, r in values])
    return angle, rate


def init(params: dict, spec: Any) -> dict:
    return {
        "phase": jnp.zeros(2, jnp.float32),  # per leg
        "started": jnp.zeros((), jnp.float32),
        "base": transparent.init(params["base"], spec),
    }


def _nearest_phase(q: jnp.ndarray, params: dict, lo: jnp.ndarray, width: float) -> jnp.ndarray:
    """Per leg: the phase in [lo, lo + width] whose reference posture is nearest ``q``."""
    candidates = lo[:, None] + jnp.linspace(0.0, width, SEARCH)[None, :]  # (2, SEARCH)
    side, joint = params["side"], params["joint"]
    ref, _ = reference_angles(candidates[side], joint[:, None], params["hip_scale"])
    err = (ref - q[:, None]) ** 2
    per_leg = jnp.stack(
        [jnp.sum(jnp.where((side == s)[:, None], err, 0.0), axis=0) for s in (0, 1)]
    )
    return jnp.take_along_axis(candidates, jnp.argmin(per_leg, axis=1)[:, None], axis=1)[:, 0]


def guidance_torque(params: dict, state: dict, obs: dict, level: jnp.ndarray, path: bool):
    """(new phase per leg, torque per module) for guidance ``level`` in [0, 1]; ``path``
    selects path control (a Python bool: each mode is its own compiled function)."""
    q, dq = obs["joint_angle_rad"], obs["joint_velocity_rad_s"]
    side, joint = params["side"], params["joint"]

    # the first tick searches the whole cycle for each leg's nearest phase (a branch, so
    # the later ticks do not pay for that search)
    def start() -> jnp.ndarray:
        first = _nearest_phase(q, params, jnp.zeros(2), 1.0)
        if path:
            return first
        return jnp.stack([first[0], first[0] + 0.5])  # fixed timing: legs half a stride apart

    def going() -> jnp.ndarray:
        if path:
            return _nearest_phase(q, params, state["phase"], AHEAD)
        return state["phase"] + params["dt"] / params["stride_s"]

    phase = jax.lax.cond(state["started"] > 0, going, start)
    phase = jnp.mod(phase, 1.0)
    ref, ref_rate = reference_angles(phase[side], joint, params["hip_scale"])
    error = ref - q
    if path:  # a tunnel: nothing inside, a spring beyond its wall
        error = jnp.sign(error) * jnp.maximum(jnp.abs(error) - params["tunnel_rad"], 0.0)
        damping = -params["damping"] * dq * (jnp.abs(ref - q) > params["tunnel_rad"])
        tangent = ref_rate / jnp.maximum(jnp.abs(ref_rate), 1e-6)
        support = params["support_nm"] * tangent
        torque = params["stiffness"] * error + damping + support
    else:
        ref_velocity = ref_rate / params["stride_s"]
        torque = params["stiffness"] * error + params["damping"] * (ref_velocity - dq)
    return phase, level * torque


def _step(params: dict, state: dict, obs: dict, path: bool) -> tuple[dict, jnp.ndarray]:
    base, compensation = transparent.step(params["base"], state["base"], obs)
    phase, torque = guidance_torque(params, state, obs, params["guidance"], path)
    new = {"phase": phase, "started": jnp.ones_like(state["started"]), "base": base}
    return new, compensation + torque


def step_impedance(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    return _step(params, state, obs, path=False)


def step_path(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    return _step(params, state, obs, path=True)


def guidance_params(config: Config, context: DeviceContext) -> dict:
    """The params pytree shared by guidance and assist-as-needed."""
    device = context.device
    speed = config.speed_m_s or context.belt_speed_m_s or 1.0
    stride = config.stride_time_s or reference.stride_time_s(speed, context.height_m)
    scale = 1.0
    if config.stride_time_s is not None:
        scale = reference.hip_scale(speed, stride, context.height_m)
    joints = [j for _, j in device.modules]

    def per_module(field: str) -> jnp.ndarray:
        return jnp.asarray([getattr(config, f"{j}_{field}") for j in joints], jnp.float32)

    return {
        "side": jnp.asarray([C.SIDES.index(s) for s, _ in device.modules], jnp.int32),
        "joint": jnp.asarray([C.JOINTS.index(j) for j in joints], jnp.int32),
        "stiffness": per_module("stiffness_nm_rad"),
        "damping": per_module("damping_nms_rad"),
        "stride_s": jnp.float32(stride),
        "hip_scale": jnp.float32(scale),
        "dt": jnp.float32(1.0 / context.rate_hz),
        "tunnel_rad": jnp.float32(config.tunnel_rad),
        "support_nm": jnp.float32(config.support_nm),
        "guidance": jnp.float32(config.guidance),
        "base": transparent.make(config.compensation, context).params,
    }


def make(config: Config, context: DeviceContext) -> Controller:
    step = step_path if config.mode == "path" else step_impedance
    return Controller("guidance", init, step, guidance_params(config, context), context.rate_hz)

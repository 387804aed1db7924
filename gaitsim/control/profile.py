"""Phase-based torque profiles: assistance as a function of the estimated gait phase.

Each bump is the 4-parameter profile of Zhang et al. 2017 (Science 356:1280; peak torque,
peak time, rise time, fall time, times in fractions of the stride from heel strike): torque
rises from zero at ``peak_time - rise_time`` to the peak at ``peak_time`` and falls back to
zero at ``peak_time + fall_time``, each segment a cubic with zero slope at its ends (Zhang's
nodes used a spline through the same points). A bump may start before heel strike
(``peak_time - rise_time < 0``: the end of the previous stride), as hip extension assistance
does. Torques are per kg of body mass, in the joint's clinical sign (plantarflexion and hip
extension negative). A bump acts on every module of its joint, each side on its own phase
(:mod:`gaitsim.control.phase`).

Shipped configurations: controllers/ankle-profile.toml (Zhang's timing as used by PredSim's
ankle exoskeleton example: peak 52.9 %, rise 26.2 %, fall 9.8 % of the stride).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jax.numpy as jnp
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gaitsim import constants as C
from gaitsim.control import phase, transparent
from gaitsim.control.config import ControllerConfig, DeviceContext
from gaitsim.control.interface import Controller
from gaitsim.spec import Device


class Bump(BaseModel):
    """One assistance bump (Zhang 2017's four parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    joint: Literal["hip", "knee", "ankle"]
    peak_torque_nm_kg: Annotated[float, Field(ge=-2.0, le=2.0)]
    peak_time: Annotated[float, Field(ge=0.0, le=1.0)]
    rise_time: Annotated[float, Field(gt=0.0, le=1.0)]
    fall_time: Annotated[float, Field(gt=0.0, le=1.0)]

    @model_validator(mode="after")
    def _within_a_stride(self) -> Bump:
        if self.rise_time + self.fall_time > 1.0:
            raise ValueError("rise_time + fall_time must not exceed one stride (1.0)")
        return self


class Config(ControllerConfig):
    """``kind = "profile"``: ``bumps`` of assistance, on top of transparent mode.

    A side is assisted once its phase estimate rests on ``phase.HISTORY`` timed strides, and
    the assistance then ramps up linearly over ``ramp_strides`` strides, as devices start
    assisting (a torque on a wrong phase estimate disturbs more than it helps).
    """

    bumps: Annotated[tuple[Bump, ...], Field(strict=False, min_length=1)]
    ramp_strides: Annotated[float, Field(ge=0.0, le=100.0)] = 5.0
    #: the device's own losses are compensated underneath, as in transparent mode
    compensation: transparent.Config = transparent.Config()


def bump(phi: jnp.ndarray, peak: Any, peak_time: Any, rise: Any, fall: Any) -> jnp.ndarray:
    """Torque of bumps at phase ``phi`` (broadcasting), including the part of a bump that
    began in the previous stride."""

    def one(x: jnp.ndarray) -> jnp.ndarray:
        up = jnp.clip((x - (peak_time - rise)) / rise, 0.0, 1.0)
        down = jnp.clip((x - peak_time) / fall, 0.0, 1.0)
        s = jnp.where(x < peak_time, up * up * (3 - 2 * up), 1 - down * down * (3 - 2 * down))
        inside = (x > peak_time - rise) & (x < peak_time + fall)
        return jnp.where(inside, peak * s, 0.0)

    return one(phi) + one(phi - 1.0) + one(phi + 1.0)


def init(params: dict, spec: Any) -> dict:
    return {"phase": phase.init(), "base": transparent.init(params["base"], spec)}


def step(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    """One tick: insole loads in, a torque per module out (N m)."""
    gait, phi, _ = phase.update(
        state["phase"], obs["foot_load_n"], params["body_weight_n"], params["dt"]
    )
    base, compensation = transparent.step(params["base"], state["base"], obs)
    # (modules, bumps): each module on its side's phase
    side = params["side"]
    x = phi[side][:, None]
    b = params["bumps"]
    torque = bump(x, b[..., 0], b[..., 1], b[..., 2], b[..., 3]).sum(axis=1)
    strides = gait["timed"][side] - phase.HISTORY + 1.0  # from the first trusted stride
    gain = jnp.clip(strides / params["ramp_strides"], 0.0, 1.0)
    assist = gain * torque * params["mass_kg"]
    return {"phase": gait, "base": base}, compensation + assist


def fits(config: Config, device: Device) -> bool:
    """A profile fits a device with a module on a joint one of its bumps assists."""
    return bool({b.joint for b in config.bumps} & {m.joint for m in device.modules})


def make(config: Config, context: DeviceContext) -> Controller:
    device = context.device
    per_module = [[b for b in config.bumps if b.joint == joint] for _, joint in device.modules]
    width = max(1, max(len(b) for b in per_module))
    table = np.zeros((device.size, width, 4), np.float32)
    table[..., 2:] = 0.5  # padding bumps: zero peak, valid widths
    for m, bumps in enumerate(per_module):
        for k, b in enumerate(bumps):
            table[m, k] = (b.peak_torque_nm_kg, b.peak_time, b.rise_time, b.fall_time)
    params = {
        "bumps": jnp.asarray(table),
        "side": jnp.asarray([C.SIDES.index(s) for s, _ in device.modules], jnp.int32),
        "mass_kg": jnp.float32(context.mass_kg),
        "body_weight_n": jnp.float32(context.mass_kg * C.G_M_S2),
        "dt": jnp.float32(1.0 / context.rate_hz),
        "ramp_strides": jnp.float32(max(config.ramp_strides, 1e-6)),
        "base": transparent.make(config.compensation, context).params,
    }
    return Controller("profile", init, step, params, context.rate_hz)

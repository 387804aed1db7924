"""Transparent mode: the device follows the person and adds as little as it can.

The command cancels the device's own losses, as in zero-torque modes of research
exoskeletons: Coulomb friction ``F_c sign(w)`` (smoothed by ``tanh(w / w_s)`` so it does not
chatter at rest), viscous damping ``b w``, and the reflected rotor inertia ``J a`` with the
acceleration ``a`` differenced from the encoder velocity and low-passed (first order). Each
term has a gain in [0, 1]: full compensation of a noisy, delayed estimate can destabilise, so
the shipped configuration compensates part of it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import jax.numpy as jnp
from pydantic import Field

from gaitsim.control.config import ControllerConfig, DeviceContext
from gaitsim.control.interface import Controller


class Config(ControllerConfig):
    """``kind = "transparent"``."""

    kind: Literal["transparent"] = "transparent"

    friction_compensation: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8
    damping_compensation: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8
    inertia_compensation: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    #: speed at which friction compensation reaches 76 % (tanh(1)) of its full value
    friction_smoothing_rad_s: Annotated[float, Field(gt=0.0, le=10.0)] = 0.1
    #: cut-off of the acceleration estimate's low-pass filter
    acceleration_cutoff_hz: Annotated[float, Field(gt=0.0, le=500.0)] = 15.0


def init(params: dict, spec: Any) -> dict:
    n = params["friction_nm"].shape[0]
    return {
        "velocity": jnp.zeros(n, jnp.float32),
        "acceleration": jnp.zeros(n, jnp.float32),
        "started": jnp.zeros((), jnp.float32),
    }


def step(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    """One tick: encoder velocity in, compensation torques out (N m per module)."""
    w = obs["joint_velocity_rad_s"]
    raw = (w - state["velocity"]) * params["rate_hz"] * state["started"]
    acc = state["acceleration"] + params["alpha"] * (raw - state["acceleration"])
    torque = (
        params["friction_gain"] * params["friction_nm"] * jnp.tanh(w / params["smoothing"])
        + params["damping_gain"] * params["damping_nms_rad"] * w
        + params["inertia_gain"] * params["inertia_kg_m2"] * acc
    )
    return {"velocity": w, "acceleration": acc, "started": jnp.ones_like(state["started"])}, torque


def make(config: Config, context: DeviceContext) -> Controller:
    """The transparent controller of a device (its actuators' friction and inertia)."""
    a, rate_hz = context.device.actuators, context.rate_hz

    def f32(values: Any) -> jnp.ndarray:
        return jnp.asarray(values, jnp.float32)

    # first-order low-pass at the tick rate: alpha = dt / (dt + 1 / (2 pi fc))
    dt = 1.0 / rate_hz
    alpha = dt / (dt + 1.0 / (2.0 * math.pi * config.acceleration_cutoff_hz))
    params = {
        "friction_nm": f32([x.friction_nm for x in a]),
        "damping_nms_rad": f32([x.damping_nms_rad for x in a]),
        "inertia_kg_m2": f32([x.reflected_inertia_kg_m2 for x in a]),
        "friction_gain": f32(config.friction_compensation),
        "damping_gain": f32(config.damping_compensation),
        "inertia_gain": f32(config.inertia_compensation),
        "smoothing": f32(config.friction_smoothing_rad_s),
        "alpha": f32(alpha),
        "rate_hz": f32(rate_hz),
    }
    return Controller("transparent", init, step, params, rate_hz)

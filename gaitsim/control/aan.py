"""Assist-as-needed: guidance that adapts stride by stride to the leg's tracking error.

Error-based adaptation with forgetting (Emken, Bobrow & Reinkensmeyer 2005, ICORR, "Robotic
movement training as an optimization problem: designing a controller that assists only as
needed" [memory]): after each stride of a leg, that leg's guidance level becomes
``forgetting * level + error_gain * rms_error`` within ``[min_guidance, max_guidance]``. A
leg that tracks the reference well is given less and less help (the forgetting factor), one
that errs is given more. The guidance itself is :mod:`gaitsim.control.guidance` (impedance or
path mode); a leg's stride ends when its guidance phase wraps.
"""

from __future__ import annotations

from typing import Annotated, Any

import jax.numpy as jnp
from pydantic import Field, model_validator

from gaitsim.control import guidance, transparent
from gaitsim.control.config import DeviceContext
from gaitsim.control.interface import Controller


class Config(guidance.Config):
    """``kind = "assist-as-needed"``: the guidance fields (``guidance``: the starting level),
    plus the adaptation."""

    forgetting: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    error_gain: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0  # guidance per rad RMS error
    min_guidance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    max_guidance: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Config:
        if self.min_guidance > self.max_guidance:
            raise ValueError("min_guidance must not exceed max_guidance")
        return self


def init(params: dict, spec: Any) -> dict:
    return {
        **guidance.init(params, spec),
        "level": jnp.full(2, params["guidance"], jnp.float32),  # per leg
        "error_sum": jnp.zeros(2, jnp.float32),
        "samples": jnp.zeros(2, jnp.float32),
    }


def _step(params: dict, state: dict, obs: dict, path: bool) -> tuple[dict, jnp.ndarray]:
    base, compensation = transparent.step(params["base"], state["base"], obs)
    side = params["side"]
    phase, torque = guidance.guidance_torque(params, state, obs, state["level"][side], path)
    ref, _ = guidance.reference_angles(phase[side], params["joint"], params["hip_scale"])
    squared = (ref - obs["joint_angle_rad"]) ** 2
    per_leg = jnp.stack([jnp.sum(jnp.where(side == s, squared, 0.0)) for s in (0, 1)])
    modules = jnp.stack([jnp.sum(side == s) for s in (0, 1)]).astype(jnp.float32)
    error_sum = state["error_sum"] + per_leg / jnp.maximum(modules, 1.0)
    samples = state["samples"] + 1.0
    # a leg's stride ends when its phase wraps (and not on the first tick)
    wrapped = (phase < state["phase"]) & (state["started"] > 0)
    rms = jnp.sqrt(error_sum / jnp.maximum(samples, 1.0))
    adapted = jnp.clip(
        params["forgetting"] * state["level"] + params["error_gain"] * rms,
        params["min_guidance"],
        params["max_guidance"],
    )
    new = {
        "phase": phase,
        "started": jnp.ones_like(state["started"]),
        "base": base,
        "level": jnp.where(wrapped, adapted, state["level"]),
        "error_sum": jnp.where(wrapped, 0.0, error_sum),
        "samples": jnp.where(wrapped, 0.0, samples),
    }
    return new, compensation + torque


def step_impedance(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    return _step(params, state, obs, path=False)


def step_path(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    return _step(params, state, obs, path=True)


def make(config: Config, context: DeviceContext) -> Controller:
    params = {
        **guidance.guidance_params(config, context),
        "forgetting": jnp.float32(config.forgetting),
        "error_gain": jnp.float32(config.error_gain),
        "min_guidance": jnp.float32(config.min_guidance),
        "max_guidance": jnp.float32(config.max_guidance),
    }
    step = step_path if config.mode == "path" else step_impedance
    return Controller("assist-as-needed", init, step, params, context.rate_hz)

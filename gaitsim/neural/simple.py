"""The simplest patient controllers, constant excitation (tests, passive drops, a simply
activated body); the walking patient uses the reflex controller.

``passive`` holds every muscle at the minimum excitation (0.01, the pre-stimulation of Geyer &
Herr 2010); ``constant`` at a chosen level, a simply activated body that co-contracts.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from gaitsim.control.interface import Controller
from gaitsim.neural.reflex import PRE_STIMULATION as MIN_EXCITATION
from gaitsim.spec import Controller as ControllerSpec


def _init(params: Any, spec: Any) -> jnp.ndarray:
    return jnp.zeros((), jnp.float32)  # tick count (float32: states ravel to one vector)


def _step(params: jnp.ndarray, state: jnp.ndarray, obs: dict[str, Any]):
    excitation = jnp.clip(params, MIN_EXCITATION, 1.0) * jnp.ones_like(obs["muscle_length_m"])
    return state + 1, excitation


def constant_excitation(n_muscles: int, level: float, rate_hz: float) -> Controller:
    """Every muscle at ``level`` (clipped to [0.01, 1])."""
    return Controller("constant", _init, _step, jnp.full((n_muscles,), level), rate_hz)


def simple_controller(spec: ControllerSpec, n_muscles: int) -> Controller:
    """The ``passive`` or ``constant`` controller of a scenario's ``controller`` section."""
    level = MIN_EXCITATION if spec.kind == "passive" else spec.excitation
    return constant_excitation(n_muscles, level, spec.rate_hz)

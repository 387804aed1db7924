"""A controller is a pair of pure functions over pytrees, jitted once (the project's design
notes, shared/DESIGN.md):

    init(params, spec) -> state
    step(params, state, obs) -> (state, command)

``obs`` is a dict of named arrays (units in the names); ``command`` is an array in SI units
(muscle excitations for the patient's neural controller, torques for a device). The same
``step`` runs in the simulator and under ``jax.vmap`` in batches, and is meant to run unchanged
in the Gymnasium env and the hardware loop when they exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PyTree = Any
InitFn = Callable[[PyTree, Any], PyTree]
StepFn = Callable[[PyTree, PyTree, dict[str, Any]], tuple[PyTree, Any]]


@dataclass(frozen=True)
class Controller:
    """A named controller: its pure functions, its parameters and its call rate."""

    name: str
    init: InitFn
    step: StepFn
    params: PyTree
    rate_hz: float

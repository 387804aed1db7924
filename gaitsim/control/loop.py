"""Controllers compiled for fixed-rate loops: flat params, flat state, packed obs.

A jitted call costs per argument (about 2 us each here), so loops pass params and state
raveled into one vector each and the measurements packed in their layout's order; inside the
compiled function they are unpacked to the controller's pytrees and dict. The controller itself
is unchanged: the same ``step`` runs in a single loop and under ``jax.vmap``.

Compiled functions are cached by controller function, pytree structure and batching, so many
runs (tests, tuning generations, evaluation) compile once per process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gaitsim.control.interface import Controller
from gaitsim.sim.sensing import PATIENT_LAYOUT, unpack

Layout = tuple[tuple[str, int], ...]


def steps_per_tick(rate_hz: float, dt: float) -> int:
    """Physics steps of ``dt`` (s) between two ticks of a ``rate_hz`` loop (at least one)."""
    return max(1, round(1.0 / (rate_hz * dt)))


def synchronous_dispatch() -> None:
    """Run jitted CPU calls on the caller's thread.

    A control loop alternates a small jitted call with other CPU work (physics, I/O). With
    JAX's asynchronous CPU dispatch every call then pays a thread hand-off that costs several
    times the computation (measured here: 115 us instead of 23 us per call between 90 us of
    other work). Called when a loop is compiled, so importing gaitsim changes nothing.

    XLA's CPU client still runs a program of 1000 flops or more (its cost analysis) on its
    thread pool whatever this setting says; :func:`step_flops` tells a loop's cost, and the
    reflex step is kept under it (tested).
    """
    jax.config.update("jax_cpu_enable_async_dispatch", False)


@dataclass(frozen=True)
class LoopController:
    """``step(state, obs) -> (state, command)`` on flat arrays, params bound. ``level``: where
    the flat state holds the controller's assist level per leg (a state entry ``"level"``, as
    assist-as-needed keeps it), None when it has none."""

    name: str
    rate_hz: float
    state0: np.ndarray
    params: np.ndarray
    compiled: Callable[[Any, Any, Any], tuple[Any, Any]]
    level: slice | None = None

    def step(self, state: Any, obs: np.ndarray) -> tuple[Any, Any]:
        return self.compiled(self.params, state, obs)


def _signature(tree: Any) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((np.shape(x), str(getattr(x, "dtype", type(x)))) for x in leaves)


_CACHE: dict[tuple, Callable] = {}


def _compiled(controller: Controller, state0: Any, layout: Layout, batched: bool) -> Callable:
    key = (controller.step, _signature(controller.params), _signature(state0), layout, batched)
    if key not in _CACHE:
        _, unravel_params = ravel_pytree(controller.params)
        _, unravel_state = ravel_pytree(state0)
        step = controller.step

        def flat_step(params: jax.Array, flat: jax.Array, obs: jax.Array):
            state, command = step(unravel_params(params), unravel_state(flat), unpack(obs, layout))
            return ravel_pytree(state)[0], command

        _CACHE[key] = jax.jit(jax.vmap(flat_step) if batched else flat_step)
    return _CACHE[key]


def compile_for_loop(
    controller: Controller, spec: Any, layout: Layout = PATIENT_LAYOUT
) -> LoopController:
    """Ravel params and state and jit ``step`` (cached) for a fixed-rate loop."""
    synchronous_dispatch()
    state0 = controller.init(controller.params, spec)
    return LoopController(
        controller.name,
        controller.rate_hz,
        np.asarray(ravel_pytree(state0)[0]),
        np.asarray(ravel_pytree(controller.params)[0]),
        _compiled(controller, state0, layout, batched=False),
        _level_slice(state0),
    )


def _level_slice(state: Any) -> slice | None:
    """The flat-state slice of a top-level ``"level"`` entry (raveling's leaf order)."""
    start = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        size = int(np.size(leaf))
        key = path[0] if path else None
        if isinstance(key, jax.tree_util.DictKey) and key.key == "level":
            return slice(start, start + size)
        start += size
    return None


def step_flops(loop: LoopController, layout: Layout = PATIENT_LAYOUT) -> float:
    """XLA's flop estimate of a loop's compiled step (under 1000: it runs on the caller's
    thread; at 1000 or more every call pays a thread hand-off, about 50 us here)."""
    obs = np.zeros(sum(n for _, n in layout), np.float32)
    compiled: Any = loop.compiled  # a jitted function
    cost = compiled.lower(loop.params, loop.state0, obs).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def compile_for_batch(
    controllers: Sequence[Controller], spec: Any, layout: Layout = PATIENT_LAYOUT
) -> tuple[np.ndarray, jax.Array, Callable]:
    """(params (N, P), states (N, S), jit(vmap(step))) for members of one structure."""
    synchronous_dispatch()
    state0 = controllers[0].init(controllers[0].params, spec)
    params = np.stack([np.asarray(ravel_pytree(c.params)[0]) for c in controllers])
    states = jnp.tile(ravel_pytree(state0)[0], (len(controllers), 1))
    return params, states, _compiled(controllers[0], state0, layout, batched=True)

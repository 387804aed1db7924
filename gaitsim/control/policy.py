"""Policy: a multilayer perceptron whose weights are the controller's params.

The input is the device measurements named in ``observations`` (in that order,
:func:`gaitsim.sim.device.device_layout` names) scaled to order one as the Gymnasium
environment scales them (:mod:`gaitsim.control.features`), the last ``history`` ticks
stacked newest first (the first tick fills the history), then normalised as
``(x - obs_mean) / obs_std``. Hidden layers use ``activation``. The output layer gives one
value per module, squashed to [-1, 1] by ``output`` (``tanh``, or ``clip`` as for the mean
action of a Gaussian policy such as PPO's) and scaled by ``action_scale_nm``.

The weights live in a NumPy ``.npz`` file (no pickle: loaded with ``allow_pickle=False``)
with arrays ``w0, b0, w1, b1, ...`` (layer k maps ``w_k.shape[0]`` inputs to
``w_k.shape[1]`` outputs), ``obs_mean`` and ``obs_std``. ``gaitsim export`` writes such a
file and its configuration from a trained stable-baselines3 policy; the same function then
runs here, in the environment's evaluation and on the robot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field

from gaitsim.catalogue import resolve
from gaitsim.control.config import ControllerConfig, ControllerConfigError, DeviceContext
from gaitsim.control.features import feature_scale
from gaitsim.control.interface import Controller

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "elu": jax.nn.elu}
OUTPUTS = {"tanh": jnp.tanh, "clip": lambda x: jnp.clip(x, -1.0, 1.0)}


class Config(ControllerConfig):
    """``kind = "policy"``."""

    weights: str
    observations: Annotated[tuple[str, ...], Field(strict=False, min_length=1)]
    history: Annotated[int, Field(ge=1, le=50)] = 1
    activation: Literal["tanh", "relu", "elu"] = "tanh"
    output: Literal["tanh", "clip"] = "tanh"
    action_scale_nm: Annotated[float, Field(gt=0.0, le=500.0)] = 10.0
    #: the loop rate the policy decides at (its training environment's; None: the device's)
    rate_hz: Annotated[float, Field(gt=0.0, le=2000.0)] | None = None


#: fields naming files, found next to the configuration file first
FILE_FIELDS = ("weights",)


class PolicyError(ControllerConfigError):
    """A policy's weights do not fit its configuration or device (names the file)."""


def load_weights(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: np.asarray(f[k], np.float32) for k in f.files}
    except (OSError, ValueError) as exc:
        raise PolicyError(f"{path}: cannot read policy weights: {exc}") from None


def _layers(weights: dict[str, np.ndarray], path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    k = 0
    while f"w{k}" in weights:
        w, b = weights[f"w{k}"], weights.get(f"b{k}")
        if w.ndim != 2 or b is None or b.shape != (w.shape[1],):
            raise PolicyError(f"{path}: layer {k}: w{k} must be (in, out) and b{k} (out,)")
        if layers and layers[-1][0].shape[1] != w.shape[0]:
            raise PolicyError(
                f"{path}: layer {k} takes {w.shape[0]} inputs, gets {layers[-1][0].shape[1]}"
            )
        layers.append((w, b))
        k += 1
    if not layers:
        raise PolicyError(f"{path}: no layers (arrays w0, b0, ...)")
    return layers


def init(params: dict, spec: Any) -> dict:
    n = params["feature_scale"].shape[0]
    history = params["obs_mean"].shape[0] // n
    return {"history": jnp.zeros((history, n), jnp.float32), "ticks": jnp.zeros((), jnp.int32)}


def step(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    x = jnp.concatenate([jnp.ravel(obs[name]) for name in params["names"]])
    x = x * params["feature_scale"]
    past = state["history"]
    # newest first; the first tick fills the history, as the environment does
    history = jnp.where(
        state["ticks"] == 0,
        jnp.broadcast_to(x, past.shape),
        jnp.concatenate([x[None], past[:-1]]),
    )
    h = (jnp.ravel(history) - params["obs_mean"]) / params["obs_std"]
    layers = params["layers"]
    for w, b in layers[:-1]:
        h = params["activation"](h @ w + b)
    w, b = layers[-1]
    out = params["squash"](h @ w + b)
    return {"history": history, "ticks": state["ticks"] + 1}, params["scale"] * out


def make(config: Config, context: DeviceContext) -> Controller:
    from gaitsim.sim.device import device_layout

    path = resolve("controllers", config.weights, ".npz")
    weights = load_weights(path)
    layers = _layers(weights, path)
    layout = device_layout(context.device.size, context.emg_channels)
    try:  # the environment's scaling: one definition (gaitsim.control.features)
        scale = feature_scale(
            config.observations, layout, context.device.peak_torque_nm, context.mass_kg
        )
    except ValueError as exc:
        raise PolicyError(f"{path}: observations: {exc}") from None
    n_in = len(scale) * config.history
    if layers[0][0].shape[0] != n_in:
        raise PolicyError(
            f"{path}: the first layer takes {layers[0][0].shape[0]} inputs; the observations "
            f"{list(config.observations)} of this device over a history of {config.history} "
            f"give {n_in}"
        )
    if layers[-1][0].shape[1] != context.device.size:
        raise PolicyError(
            f"{path}: the last layer gives {layers[-1][0].shape[1]} torques; the device has "
            f"{context.device.size} modules"
        )
    mean = weights.get("obs_mean", np.zeros(n_in, np.float32))
    std = weights.get("obs_std", np.ones(n_in, np.float32))
    if mean.shape != (n_in,) or std.shape != (n_in,) or np.any(std <= 0):
        raise PolicyError(f"{path}: obs_mean and obs_std must be ({n_in},), std > 0")
    params = {
        "layers": [(jnp.asarray(w), jnp.asarray(b)) for w, b in layers],
        "obs_mean": jnp.asarray(mean),
        "obs_std": jnp.asarray(std),
        "scale": jnp.float32(config.action_scale_nm),
        "feature_scale": jnp.asarray(scale),
    }
    step_fn = _bound_step(config.observations, config.activation, config.output)
    return Controller("policy", init, step_fn, params, config.rate_hz or context.rate_hz)


_STEPS: dict[tuple, Any] = {}


def _bound_step(names: tuple[str, ...], activation: str, output: str) -> Any:
    """``step`` with the observation names, activation and output squash bound: they are
    structure, not numbers, so the params pytree holds only numbers. One function per
    structure, so compiled loops are reused across runs."""
    key = (tuple(names), activation, output)
    if key not in _STEPS:
        fn, squash = ACTIVATIONS[activation], OUTPUTS[output]

        def bound_step(params: dict, state: dict, obs: dict):
            return step({**params, "names": key[0], "activation": fn, "squash": squash}, state, obs)

        _STEPS[key] = bound_step
    return _STEPS[key]

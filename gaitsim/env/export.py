"""``gaitsim export``: a trained stable-baselines3 policy as a ``policy`` device controller.

The actor's layers become the arrays ``w0, b0, ...`` of an ``.npz`` file (no pickle) and a
configuration TOML beside it names the environment's observed signals, history, activation
and action scale, so the same MLP runs as a JAX controller (:mod:`gaitsim.control.policy`)
under ``gaitsim run``, ``gaitsim compare`` and the hardware loop. PPO's deterministic action
is its Gaussian's mean (with or without gSDE), clipped to the action space (``output =
"clip"``; ``"tanh"`` with ``squash_output``); SAC's is the tanh of its mean (``output =
"tanh"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gaitsim._io import atomic_path, write_text
from gaitsim.env.config import EnvConfig
from gaitsim.env.core import decision_rate_hz

_ACTIVATIONS = {"Tanh": "tanh", "ReLU": "relu", "ELU": "elu"}


class ExportError(ValueError):
    """The model cannot be written as a policy controller (says why)."""


def _linear_stack(modules: list[Any], what: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], set]:
    """Linear layers (as (in, out) weights and biases) and the activation names between."""
    layers, activations = [], set()
    for m in modules:
        kind = type(m).__name__
        if kind == "Linear":
            w = m.weight.detach().cpu().numpy().astype(np.float32).T
            b = m.bias.detach().cpu().numpy().astype(np.float32)
            layers.append((w, b))
        elif kind in _ACTIVATIONS:
            activations.add(_ACTIVATIONS[kind])
        elif kind not in ("Flatten", "Identity", "Sequential"):
            raise ExportError(f"{what}: layer {kind} has no counterpart in the policy controller")
    return layers, activations


def actor_layers(model: Any) -> tuple[list[tuple[np.ndarray, np.ndarray]], str, str]:
    """(layers, hidden activation, output squash) of a PPO or SAC model's deterministic actor."""
    policy = model.policy
    name = type(model).__name__
    # exploration noise (gSDE's included) is not part of the deterministic action
    if name == "PPO":
        hidden = list(policy.mlp_extractor.policy_net)
        head, squash = policy.action_net, "tanh" if policy.squash_output else "clip"
    elif name == "SAC":
        hidden = list(policy.actor.latent_pi)
        head, squash = policy.actor.mu, "tanh"
    else:
        raise ExportError(f"{name}: only PPO and SAC models are exported")
    layers, activations = _linear_stack([*hidden, head], name)
    if len(activations) > 1:
        raise ExportError(f"{name}: mixed activations {sorted(activations)}")
    return layers, (activations.pop() if activations else "tanh"), squash


def export_policy(model: Any, config: EnvConfig, out_dir: Path, name: str = "policy") -> Path:
    """Write ``name.npz`` and ``name.toml`` (the controller configuration) into ``out_dir``;
    returns the configuration's path (give it to ``device.controller`` or ``gaitsim compare
    --controllers``)."""
    layers, activation, squash = actor_layers(model)
    n_in = layers[0][0].shape[0]
    arrays: dict[str, np.ndarray] = {}
    for k, (w, b) in enumerate(layers):
        arrays[f"w{k}"], arrays[f"b{k}"] = w, b
    arrays["obs_mean"] = np.zeros(n_in, np.float32)  # the features are already of order one
    arrays["obs_std"] = np.ones(n_in, np.float32)
    weights = out_dir / f"{name}.npz"
    with atomic_path(weights, suffix=".npz") as tmp:  # never a half-written weights file
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
    signals = ", ".join(f'"{s}"' for s in config.observation.sensors)
    rate_hz = decision_rate_hz(config)  # the rate the policy was trained at
    toml = (
        f"# Exported by gaitsim export from a {type(model).__name__} policy trained on "
        f"{config.id}\n"
        'kind = "policy"\n'
        f'description = "{type(model).__name__} policy trained on {config.id}"\n'
        f'weights = "{weights.name}"\n'
        f"observations = [{signals}]\n"
        f"history = {config.observation.history}\n"
        f'activation = "{activation}"\n'
        f'output = "{squash}"\n'
        f"action_scale_nm = {config.action_scale_nm!r}\n"
        f"rate_hz = {rate_hz!r}\n"
    )
    path = out_dir / f"{name}.toml"
    write_text(path, toml)
    return path

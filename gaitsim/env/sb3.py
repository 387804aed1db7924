"""stable-baselines3's side of the environments: the vector environment as an SB3 ``VecEnv``.

SB3 resets a finished member within the same step and hands the last observation of the
finished episode in ``info["terminal_observation"]`` (with ``info["TimeLimit.truncated"]``
for a time limit): :class:`SB3VecEnv` runs a :class:`~gaitsim.env.vector.GaitVectorEnv` in
``SAME_STEP`` autoreset mode and gives SB3 exactly that, so SB3 trains on the batched
simulation directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from gaitsim.env.config import EnvConfig
from gaitsim.env.vector import GaitVectorEnv


class SB3VecEnv(VecEnv):
    """A gaitsim vector environment behind stable-baselines3's ``VecEnv`` interface."""

    def __init__(self, config: str | EnvConfig, num_envs: int, nthread: int = 2) -> None:
        self.venv = GaitVectorEnv(config, num_envs, nthread, autoreset_mode="SameStep")
        super().__init__(
            num_envs, self.venv.single_observation_space, self.venv.single_action_space
        )
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        options = self._options[0] or None  # one set of options for every member
        obs, _ = self.venv.reset(seed=list(self._seeds), options=options)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        assert self._actions is not None, "step_async first"
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        dones = terminated | truncated
        out: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            info: dict[str, Any] = {"strides": infos["strides"][i]}
            if dones[i]:
                info["terminal_observation"] = infos["final_obs"][i]
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                info["termination_reason"] = infos["termination_reason"][i]
            out.append(info)
        return obs, rewards.astype(np.float32), dones, out

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"set_attr({attr_name!r}): the members share one batch")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
        raise AttributeError(f"env_method({method_name!r}): the members share one batch")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def make_training_env(config: EnvConfig, n_envs: int, seed: int, nthread: int = 2) -> VecEnv:
    """An SB3 VecEnv of ``n_envs`` members on one batch (members seeded ``seed + i``), with
    episode returns recorded for progress (``VecMonitor``)."""
    venv = SB3VecEnv(config, n_envs, nthread)
    venv.seed(seed)
    return VecMonitor(venv)

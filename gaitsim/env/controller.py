"""A device controller as the agent of a :class:`~gaitsim.env.single.GaitEnv`.

Classic controllers are validated side by side with learned policies in the same
environment: :class:`ControllerAgent` steps a controller configuration (a catalogue name or
a file, as ``device.controller`` takes; default the scenario's own) on the environment's
latest packed device measurement (``GaitEnv.last_measurement``, the same vector a hardware
interface's ``read()`` gives), with the same compiled step ``gaitsim run`` and the hardware
loop run, and returns its torque command as the environment's normalised action. With an
``action_scale_nm`` at least the motors' peak torque nothing is clipped, and the environment
drives the motors with the controller's command, as ``gaitsim run`` does.

The controller is made for each episode's wearer (a randomised patient has its own height
and mass) and restarts from its initial state when an episode starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaitsim.env.single import GaitEnv
from gaitsim.sim.device import device_loop


class ControllerAgent:
    """``agent(obs) -> action`` for ``env``, driven by the device controller ``name`` with
    ``settings`` (None: the scenario's controller and settings); ``command`` is its last
    torque command (N m per module, before the environment's clipping)."""

    def __init__(
        self, env: Any, name: str | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        self._env: GaitEnv = env.unwrapped
        if not isinstance(self._env, GaitEnv):
            raise TypeError(f"env: a gaitsim GaitEnv is needed, got {type(self._env).__name__}")
        self._name, self._settings = name, settings
        self._episode: Any = None
        self.command = np.zeros(0)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        env = self._env
        episode = env.episode
        if episode is not self._episode:  # a new episode: its wearer's controller, afresh
            self._episode = episode
            self._loop = device_loop(
                episode.scenario,
                episode.built,
                episode.sim.index,
                name=self._name,
                settings=self._settings,
            )
            self._state = self._loop.state0
        self._state, command = self._loop.step(self._state, env.last_measurement)
        self.command = np.asarray(command, float)
        return (self.command / env.config.action_scale_nm).astype(np.float32)

"""A Gymnasium environment: the agent is the device's controller, the patient walks inside.

One step is one device tick (``device.rate_hz`` of the scenario, 200 Hz by default): the
action (one value in [-1, 1] per module, times ``action_scale_nm``, then the robot's safety
layer and the motors' limits, as ``gaitsim.sim.device.DeviceRunner.act``) drives the device,
the simulation advances with the patient's neural controller in the loop, and the agent
observes the device's sensors (:mod:`gaitsim.sim.device`) scaled to order one by
:mod:`gaitsim.control.features` (the ``policy`` controller's own input, so an exported
policy sees on the robot what it saw here); the last ``history`` ticks stacked, newest first.

``reset(options={"run_seed": s})`` replays the scenario's own patient (no body draw) from
run seed ``s``: with the default initial perturbation that is seed ``s`` of ``gaitsim
compare``, which is how a trained policy's evaluation is reproduced there. With
``record=True`` an episode records a Trace (:meth:`GaitEnv.trace`) for the gait analysis.

Reward: the weighted terms of :mod:`gaitsim.env.core`, shared with the vector form.

``terminated``: a fall, a numerical blow-up or a controller error (``info["termination_reason"]``
says which); ``truncated``: the episode's time is up. ``info["strides"]`` lists the strides
finished during the step (side, stride time, step length over the ground), from heel strikes
detected on the feet's vertical force with the gait analysis's thresholds and minimum swing.
On a course, ``info["course_touches"]`` lists the projected obstacles (element indices) a foot
first touched during the step, the online view behind the ``obstacle`` reward term.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.env.config import EnvConfig, load_env_config
from gaitsim.env.core import (
    Episode,
    History,
    StrideDetector,
    env_setup,
    privileged,
    start_episode,
    step_reward,
)
from gaitsim.model.assemble import FOOT_VERTICAL_FORCE
from gaitsim.model.devices import cuff_terms, interaction_sq, interaction_torque_of
from gaitsim.sim.initial import quiet_mujoco_warnings
from gaitsim.sim.sensing import measure
from gaitsim.sim.simulation import Simulation
from gaitsim.sim.trace import Trace


class GaitEnv(gym.Env):
    """A patient and a device from a scenario; the agent drives the device."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        config: str | EnvConfig,
        render_mode: str | None = None,
        width: int = 320,
        height: int = 240,
        record: bool = False,
    ) -> None:
        self.config = config if isinstance(config, EnvConfig) else load_env_config(config)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode = {render_mode!r}: allowed: None, 'rgb_array'")
        self.render_mode = render_mode
        self._size = (width, height)
        self._record = record
        self._setup = setup = env_setup(self.config)
        self.observation_space = setup.observation_space
        self.action_space = setup.action_space
        self._sim: Simulation | None = None
        self._renderer: mujoco.Renderer | None = None

    # --- Gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._episode = episode = start_episode(self._setup, self.np_random, options, self._record)
        self._sim = sim = episode.sim
        device = sim.device
        assert device is not None
        self._dt = sim.device_every * sim.dt
        self._last_action = [0.0] * device.device.size
        k = self.config.observation.history
        self._history = History(1, k, len(episode.obs_index))
        self._fresh: np.ndarray | None = np.ones(1, bool)
        self._strides = StrideDetector(1)
        data = sim.data
        # views taken once: each attribute access on MjData builds a new view
        self._qpos, self._qvel, self._act = data.qpos, data.qvel, data.act
        self._sensordata, self._geom_xpos = data.sensordata, data.geom_xpos
        index = sim.index
        self._load_left, self._load_right = (
            index.foot_sensor[side] + FOOT_VERTICAL_FORCE for side in C.SIDES
        )
        self._heel_geoms = np.array([index.heel_geom[side] for side in C.SIDES])
        self._pelvis_dof = index.dof["pelvis_x"]
        self._belt_dof = index.belt_dof  # None overground (the belt's dof is never 0)
        assert sim.built.device is not None
        self._cuffs = cuff_terms(sim.built.device)
        obs = self._observe()
        info = {"seed": episode.run_seed, "randomized": episode.drawn}
        if self.config.observation.privileged:
            info["privileged"] = self._privileged()
        return obs, info

    def step(self, action):
        sim = self._sim
        if sim is None:
            raise RuntimeError("call reset() before step()")
        # within [-1, 1] (np.minimum/maximum: a tenth of np.clip's cost on a few values)
        raw = np.asarray(action, np.float32)
        # a non-finite action ends the episode as a controller error, as a non-finite command
        # ends the hardware loop (NaN latches the safety stop: zero torque on this step)
        broken = not np.isfinite(raw).all()
        a = np.minimum(np.maximum(raw, -1.0), 1.0)
        device = sim.device
        assert device is not None
        device.act(sim.data, a * self.config.action_scale_nm)
        with quiet_mujoco_warnings():
            sim.advance(sim.device_every)
            fell = sim.check() is not None or broken
        if broken:
            a = np.zeros_like(a)  # finite terms in the reward
        w = self.config.reward
        episode = self._episode
        info: dict[str, Any] = {"strides": []}
        # on Python numbers: a few values, where each NumPy call costs more than the sum
        values = a.tolist()
        change_sq = sum((x - y) * (x - y) for x, y in zip(values, self._last_action, strict=True))
        self._last_action = values
        if fell:
            reward = step_reward(w, self._dt, 0.0, 0.0, 0.0, change_sq, True)
        else:
            qvel = self._qvel
            speed = qvel[self._pelvis_dof] - (qvel[self._belt_dof] if self._belt_dof else 0.0)
            heat = float(self._act**0.6 @ episode.heat_w_kg) if w.effort else 0.0
            interaction = (
                interaction_sq(self._qpos, self._qvel, self._cuffs) if w.interaction else 0.0
            )
            bw, sensordata = episode.body_weight_n, self._sensordata
            left, right = sensordata[self._load_left] / bw, sensordata[self._load_right] / bw
            strides = None
            if not self._strides.quiet(left, right):
                strides = self._strides.update(
                    np.array([sim.data.time]),
                    np.array([[left, right]]),
                    lambda: self._geom_xpos[self._heel_geoms, 0][None],
                )
            asymmetry = 0.0
            if strides is not None:
                info["strides"] = strides[0]
                asymmetry = float(self._strides.asymmetry(strides, episode.leg_length_m)[0])
            touched = [] if sim.course is None else sim.course.touches(sim.data)
            if touched:
                info["course_touches"] = touched
            reward = step_reward(
                w, self._dt, speed, heat, interaction, change_sq, False, asymmetry, len(touched)
            )
        truncated = not fell and sim.done
        if fell:
            info["termination_reason"] = "controller_error" if sim.end is None else sim.end.reason
        elif truncated:
            info["termination_reason"] = "time_limit"
        obs = self._observe() if not fell else self._last_obs
        if self.config.observation.privileged:
            info["privileged"] = self._privileged()
        return obs, float(reward), fell, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self._sim is None:
            return None
        sim = self._sim
        width, height = self._size
        if self._renderer is None or self._renderer.model is not sim.model:
            sim.model.vis.global_.offwidth = max(sim.model.vis.global_.offwidth, width)
            sim.model.vis.global_.offheight = max(sim.model.vis.global_.offheight, height)
            self._renderer = mujoco.Renderer(sim.model, height, width)
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.lookat[:] = sim.data.xpos[sim.index.pelvis_body]
        camera.lookat[2] = 0.8
        camera.distance, camera.azimuth, camera.elevation = 3.0, 90.0, -10.0
        self._renderer.update_scene(sim.data, camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def trace(self) -> Trace:
        """The episode's Trace (made with ``record=True``; only the final state otherwise),
        once the episode has ended: the input of ``gaitsim.metrics.summarize``."""
        sim = self._sim
        if sim is None or not sim.done:
            raise RuntimeError("trace(): the episode has not ended")
        with quiet_mujoco_warnings():
            return sim.finish()

    @property
    def episode(self) -> Episode:
        """The current episode (scenario, model, simulation, run seed, drawn values); a new
        object at each ``reset``."""
        if self._sim is None:
            raise RuntimeError("call reset() first: no episode yet")
        return self._episode

    # --- internals ---------------------------------------------------------------------------

    def _observe(self) -> np.ndarray:
        sim, episode = self._sim, self._episode
        assert sim is not None and sim.device is not None
        #: the packed device measurement of the latest observation (device_layout order)
        self.last_measurement = measured = sim.device.observe(sim.data)
        now = measured[episode.obs_index] * episode.obs_scale
        self._last_obs = self._history.push(now[None], self._fresh)[0]
        self._fresh = None
        return self._last_obs

    def _privileged(self) -> np.ndarray:
        sim = self._sim
        assert sim is not None
        data = sim.data
        return privileged(
            self.config.observation.privileged,
            measure(data.sensordata, sim.index),
            data.act,
            self._interaction,
        )

    def _interaction(self) -> np.ndarray:
        sim = self._sim
        assert sim is not None and sim.built.device is not None
        return interaction_torque_of(self._qpos, self._qvel, sim.built.device)

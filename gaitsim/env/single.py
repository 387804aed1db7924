"""A Gymnasium environment: the agent is the device's controller, the patient walks inside.

One step is one device tick (``device.rate_hz`` of the scenario, 200 Hz by default): the
action (one value in [-1, 1] per module, times ``action_scale_nm``, then the motors' limits)
drives the device, the simulation advances with the patient's neural controller in the loop,
and the agent observes the device's sensors (:mod:`gaitsim.sim.device`) scaled to order one:
angles in rad, rates in rad/s / 10, motor torques over the motor's peak, foot loads over body
weight, EMG as is; the last ``history`` ticks stacked, newest first.

Reward per step (weights from the environment file):

- ``alive`` x dt, while the patient walks;
- ``- speed`` x (v - target)^2 x dt, v the pelvis's forward speed over the ground (belt);
- ``- effort`` x the muscles' activation heat per kg (Umberger 2003, W/kg) x dt;
- ``- interaction`` x the sum of squared cuff torques (N^2 m^2) x dt;
- ``- smoothness`` x the sum of squared action changes;
- ``- fall`` once, when the episode ends in a fall or a blow-up.

``terminated``: a fall, a numerical blow-up or a controller error (``info["termination_reason"]``
says which); ``truncated``: the episode's time is up. ``info["strides"]`` lists the strides
finished during the step (side, stride time, step length over the ground), from heel strikes
detected on the feet's vertical force with the gait analysis's thresholds and minimum swing.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.catalogue import resolve_scenario
from gaitsim.env.config import EnvConfig, load_env_config
from gaitsim.metrics.energy import activation_heat_weights
from gaitsim.metrics.events import MIN_SWING_S, OFF_BW, ON_BW
from gaitsim.model import build_scenario
from gaitsim.model.assemble import FOOT_VERTICAL_FORCE, muscle_parameters
from gaitsim.model.devices import interaction_torque
from gaitsim.sim.device import device_layout
from gaitsim.sim.initial import quiet_mujoco_warnings
from gaitsim.sim.sensing import layout_slices
from gaitsim.sim.simulation import Simulation

_RATE_SCALE = 0.1


class GaitEnv(gym.Env):
    """A patient and a device from a scenario; the agent drives the device."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        config: str | EnvConfig,
        render_mode: str | None = None,
        width: int = 320,
        height: int = 240,
    ) -> None:
        self.config = config if isinstance(config, EnvConfig) else load_env_config(config)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode = {render_mode!r}: allowed: None, 'rgb_array'")
        self.render_mode = render_mode
        self._size = (width, height)
        base = spec.load(resolve_scenario(self.config.scenario))
        if base.device.kind == "none":
            raise ValueError(f"{self.config.id}: scenario {base.name!r} has no device to control")
        run = base.run.model_copy(update={"duration_s": self.config.episode_s})
        self._base = base.model_copy(update={"run": run})
        # sizes the spaces; rebuilt per episode when the body is randomised
        self._built = build_scenario(self._base)
        assert self._built.device is not None
        n = self._built.device.size
        emg = len(self._built.muscle_names) if base.device.sensing.emg else 0
        sizes = dict(device_layout(n, emg))
        missing = [s for s in self.config.observation.sensors if s not in sizes]
        if missing:
            raise ValueError(
                f"{self.config.id}: observation.sensors {missing}: the scenario's device does "
                "not measure them (EMG needs device.sensing.emg = true)"
            )
        per_tick = sum(sizes[s] for s in self.config.observation.sensors)
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, (per_tick * self.config.observation.history,), np.float32
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n,), np.float32)
        self._sim: Simulation | None = None
        self._renderer: mujoco.Renderer | None = None

    # --- Gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        scenario = self._base
        r = self.config.randomization
        patient = {}
        if r.height_m is not None:
            patient["height_m"] = float(rng.uniform(*r.height_m))
        if r.mass_kg is not None:
            patient["mass_kg"] = float(rng.uniform(*r.mass_kg))
        if patient:
            scenario = scenario.model_copy(
                update={"patient": scenario.patient.model_copy(update=patient)}
            )
            built = build_scenario(scenario)
        else:
            built = self._built
        run_seed = int(rng.integers(2**31))
        with quiet_mujoco_warnings():
            self._sim = sim = Simulation(
                scenario, run_seed, built, external_device=True, record=False
            )
        self._scenario = scenario
        device = sim.device
        assert device is not None
        self._dt = sim.device_every * sim.dt
        bw = built.mass_kg * C.G_M_S2
        self._obs_index, self._obs_scale = self._observation_map(built, bw, device.layout)
        heat_w = activation_heat_weights(muscle_parameters(built), built.muscle_names)
        self._heat_w_kg = heat_w / built.mass_kg
        self._last_action = np.zeros(device.device.size, np.float32)
        k = self.config.observation.history
        self._history = np.zeros((k, len(self._obs_index)), np.float32)
        self._fresh = True
        self._loaded = np.ones(2, bool)
        self._last_strike = np.full(2, np.nan)
        index = sim.index
        self._load_index = np.array(
            [index.foot_sensor[side] + FOOT_VERTICAL_FORCE for side in C.SIDES]
        )
        self._heel_geoms = np.array([index.heel_geom[side] for side in C.SIDES])
        self._pelvis_dof = index.dof["pelvis_x"]
        self._belt_dof = index.belt_dof  # None overground (the belt's dof is never 0)
        self._lifted = np.full(2, -np.inf)
        self._bw = bw
        obs = self._observe()
        return obs, {"seed": run_seed, "patient": patient}

    def step(self, action):
        sim = self._sim
        if sim is None:
            raise RuntimeError("call reset() before step()")
        # within [-1, 1] (np.minimum/maximum: a tenth of np.clip's cost on a few values)
        a = np.minimum(np.maximum(np.asarray(action, np.float32), -1.0), 1.0)
        device = sim.device
        assert device is not None
        device.act(sim.data, a * self.config.action_scale_nm)
        with quiet_mujoco_warnings():
            sim.advance(sim.device_every)
        w = self.config.reward
        dt = self._dt
        fell = sim.end is not None
        reward = 0.0
        info: dict[str, Any] = {"strides": []}
        if not fell:
            data = sim.data
            qvel = data.qvel
            speed = qvel[self._pelvis_dof] - (qvel[self._belt_dof] if self._belt_dof else 0.0)
            heat = float(data.act**0.6 @ self._heat_w_kg) if w.effort else 0.0
            interaction = float(np.dot(cuff := self._interaction(), cuff)) if w.interaction else 0.0
            reward = dt * (
                w.alive
                - w.speed * (speed - w.target_speed_m_s) ** 2
                - w.effort * heat
                - w.interaction * interaction
            )
            info["strides"] = self._strides()
        else:
            reward = -w.fall
        change = a - self._last_action
        reward -= w.smoothness * float(np.dot(change, change))
        self._last_action = a
        truncated = not fell and sim.done
        if fell:
            info["termination_reason"] = sim.end.reason  # type: ignore[union-attr]
        elif truncated:
            info["termination_reason"] = "time_limit"
        obs = self._observe() if not fell else self._last_obs
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

    # --- internals ---------------------------------------------------------------------------

    def _observation_map(self, built: Any, bw: float, layout: Any) -> tuple[np.ndarray, np.ndarray]:
        """(indices into the packed measurement, scale of each) for the observed sensors."""
        device = built.device
        per_signal = {
            "joint_angle_rad": np.ones(device.size),
            "joint_velocity_rad_s": np.full(device.size, _RATE_SCALE),
            "motor_torque_nm": 1.0 / device.peak_torque_nm,
            "foot_load_n": np.full(2, 1.0 / bw),
            "thigh_angle_rad": np.ones(2),
            "thigh_rate_rad_s": np.full(2, _RATE_SCALE),
            "shank_angle_rad": np.ones(2),
            "shank_rate_rad_s": np.full(2, _RATE_SCALE),
            "emg": np.ones(len(built.muscle_names)),
        }
        slices = layout_slices(layout)
        index = np.concatenate(
            [np.arange(slices[s].start, slices[s].stop) for s in self.config.observation.sensors]
        )
        scale = np.concatenate([per_signal[s] for s in self.config.observation.sensors])
        return index, scale.astype(np.float32)

    def _observe(self) -> np.ndarray:
        sim = self._sim
        assert sim is not None and sim.device is not None
        now = sim.device.observe(sim.data)[self._obs_index] * self._obs_scale
        history = self._history
        if self._fresh:  # the first observation fills the history
            history[:] = now
            self._fresh = False
        else:
            history[1:] = history[:-1]
            history[0] = now
        self._last_obs = history.ravel().copy()
        return self._last_obs

    def _interaction(self) -> np.ndarray:
        sim = self._sim
        assert sim is not None and sim.built.device is not None
        return interaction_torque(sim.data, sim.built.device)

    def _strides(self) -> list[dict[str, Any]]:
        """Heel strikes since the last step, as finished strides."""
        sim = self._sim
        assert sim is not None
        data = sim.data
        load = data.sensordata[self._load_index] / self._bw
        t = float(data.time)
        lifting = self._loaded & (load < OFF_BW)
        self._lifted[lifting] = t
        landing = ~self._loaded & (load > ON_BW)
        self._loaded = (self._loaded & ~lifting) | landing
        if not landing.any():  # most steps: nothing more to do
            return []
        out = []
        heel_x = data.geom_xpos[self._heel_geoms, 0]
        for k in np.flatnonzero(landing):
            # a foot off the ground for less than MIN_SWING_S has not swung (a toe scuff):
            # no heel strike, as in the gait analysis
            if t - self._lifted[k] < MIN_SWING_S:
                continue
            if np.isfinite(self._last_strike[k]):
                out.append(
                    {
                        "side": C.SIDES[k],
                        "stride_time_s": float(t - self._last_strike[k]),
                        "step_length_m": float(heel_x[k] - heel_x[1 - k]),
                    }
                )
            self._last_strike[k] = t
        return out

"""The vector form: N episodes of one environment id stepped together on MuJoCo's thread pool.

``GaitVectorEnv`` is a ``gymnasium.vector.VectorEnv``. Per step, for all members at once: the
actions drive the motors (through the robot's safety layer, one
:class:`~gaitsim.hardware.safety.SimulatedSafety` for the batch, then within the motors'
torque-speed envelope), the patients' neural
controllers run in one ``jax.vmap`` call, ``mujoco.batch`` advances every member on
``nthread`` threads, and the device sensors, rewards and stride detection run on arrays with
a member axis (the functions the single environment uses, :mod:`gaitsim.env.core`). A member's
episode starts exactly as the single environment's does (:func:`gaitsim.env.core.start_episode`:
same draws from the same seed), and its simulation is then handed to the batch; a randomised
body gives the member its own model (``Batch.set_models``; same structure, other sizes).

Autoreset follows Gymnasium 1.x: ``NEXT_STEP`` (the default) resets a finished member on the
next ``step``, ignoring its action there and returning its first observation with reward 0;
``SAME_STEP`` resets it within the step and puts the last observation and info of the
finished episode in ``infos["final_obs"]`` and ``infos["final_info"]`` (what
stable-baselines3 needs, :mod:`gaitsim.env.sb3`). ``infos`` holds per-member arrays with
Gymnasium's ``"_key"`` masks: ``termination_reason`` (as the single environment's) and
``strides``, and on a course ``course_touches``.

On a course each member runs its own episode's :class:`~gaitsim.sim.course.CourseRunner`
(appearances, the patient's planner, pushes and belt-speed changes) on row views of the
batch's arrays, at the points of the tick where the single simulation runs it, so a member's
episode is the single environment's there too.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import mujoco.batch
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from gaitsim import constants as C
from gaitsim.control.loop import compile_for_batch
from gaitsim.env.config import EnvConfig, load_env_config
from gaitsim.env.core import (
    History,
    StrideDetector,
    env_setup,
    privileged,
    start_episode,
    step_reward,
)
from gaitsim.hardware.safety import SimulatedSafety
from gaitsim.model.assemble import FOOT_VERTICAL_FORCE
from gaitsim.model.devices import interaction_torque_of, saturate
from gaitsim.neural import patient_controller
from gaitsim.neural.supraspinal import COURSE_INPUTS
from gaitsim.sim.course import CourseRunner
from gaitsim.sim.device import (
    DeviceSensors,
    device_index,
    device_limits,
    true_measurements_of,
)
from gaitsim.sim.initial import FallLimits, quiet_mujoco_warnings
from gaitsim.sim.sensing import PATIENT_LAYOUT, body_index, measure
from gaitsim.sim.simulation import Push, apply_pushes, warning_reason

#: MjData fields a member's simulation hands to the batch when its episode starts.
_STATE = ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "time")


class GaitVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` members of one environment id on a ``mujoco.batch.Batch``."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        config: str | EnvConfig,
        num_envs: int,
        nthread: int = 2,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs = {num_envs}: at least 1")
        self.config = config if isinstance(config, EnvConfig) else load_env_config(config)
        mode = AutoresetMode(autoreset_mode)
        if mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode = DISABLED: allowed: NEXT_STEP, SAME_STEP")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self._setup = setup = env_setup(self.config)
        self.num_envs = n = num_envs
        self.single_observation_space = setup.observation_space
        self.single_action_space = setup.action_space
        self.observation_space = batch_space(setup.observation_space, n)
        self.action_space = batch_space(setup.action_space, n)
        self.render_mode = None

        built, scenario = setup.built, setup.scenario
        patient_sensing = scenario.controller
        if patient_sensing.sensor_delay_s or patient_sensing.sensor_noise_std:
            raise ValueError(
                f"{self.config.id}: controller.sensor_delay_s and sensor_noise_std must be 0 in "
                "the vector form (the reflex controller models its own delays); use GaitEnv"
            )
        device = built.device
        assert device is not None
        self._device = device
        model = built.model
        self._index = index = body_index(model)
        self._n_muscles = n_muscles = len(built.muscle_names)
        self._n_emg = n_muscles if scenario.device.sensing.emg else 0
        self._device_ix = device_index(model, index, device)
        # the robot's safety layer, as each single environment's device has it
        self._safety = SimulatedSafety(device_limits(model, device, scenario.device.rate_hz), n)
        self._joint_q = np.zeros((n, device.size))  # the last measured joint angles
        self._joint_v = np.zeros((n, device.size))  # and velocities
        self._batch = batch = mujoco.batch.Batch(model, nsim=n, nthread=nthread)
        self._models: list[mujoco.MjModel] = [model] * n
        self._bind = {f: batch.bind(f) for f in (*_STATE, "sensordata", "xmat", "actuator_force")}
        self._geom_xpos = batch.bind("geom_xpos")
        # a course: each member's runner, on its rows of the batch (None until it starts)
        self._on_course = bool(scenario.course.elements)
        self._runners: list[CourseRunner | None] = [None] * n
        self._pushes: list[tuple[Push, ...]] = [()] * n
        self._rows = (
            [_Member(batch, self._bind, self._geom_xpos, i) for i in range(n)]
            if self._on_course
            else []
        )
        layout = PATIENT_LAYOUT + COURSE_INPUTS if self._on_course else PATIENT_LAYOUT
        self._course_in = np.zeros((n, sum(k for _, k in COURSE_INPUTS)), np.float32)
        controller, _ = patient_controller(scenario, n_muscles)
        self._params, states, self._patient_step = compile_for_batch(
            [controller] * n, scenario, layout
        )
        self._states = np.array(states)
        self._sensors: DeviceSensors | None = None  # made with the first episode's tick
        k, per_tick = self.config.observation.history, setup.observation_space.shape[0]
        self._history = History(n, k, per_tick // k)
        self._strides = StrideDetector(n)
        self._rngs = [np.random.default_rng() for _ in range(n)]
        self._obs = np.zeros((n, per_tick), np.float32)
        self._obs_index = np.zeros(per_tick // k, np.int64)
        self._obs_scale = np.ones((n, per_tick // k), np.float32)
        self._heat_w_kg = np.zeros((n, n_muscles))
        self._cuff_k = np.zeros((n, device.size))
        self._cuff_c = np.zeros((n, device.size))
        self._bw = np.ones(n)
        self._leg_m = np.ones(n)
        self._rest_z = np.zeros(n)
        self._min_z = np.zeros(n)
        self._physics_steps = np.zeros(n, np.int64)
        self._last_action = np.zeros((n, device.size), np.float32)
        self._run_seed = np.zeros(n, np.int64)
        self._pending = np.zeros(n, bool)  # NEXT_STEP: reset at the next step
        self._start_failure = np.full(n, "", object)  # why a member's episode could not start
        self._load_index = np.array([index.foot_sensor[s] + FOOT_VERTICAL_FORCE for s in C.SIDES])
        self._heels = np.array([index.heel_geom[s] for s in C.SIDES])
        self._pelvis_dof, self._belt_dof = index.dof["pelvis_x"], index.belt_dof
        self._started = False

    # --- Gymnasium API ----------------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start every member's episode; ``seed`` (int: member i gets seed + i, or one per
        member) seeds the members as ``GaitEnv.reset(seed=...)`` seeds one environment."""
        n = self.num_envs
        seeds = [seed + i for i in range(n)] if isinstance(seed, int) else seed or [None] * n
        if len(seeds) != n:
            raise ValueError(f"seed: {len(seeds)} seeds for {n} environments")
        for i, s in enumerate(seeds):
            if s is not None:
                self._rngs[i] = gym.utils.seeding.np_random(int(s))[0]
        members = np.arange(n)
        self._start(members, options)
        self._pending[:] = False
        infos: dict[str, Any] = {"seed": self._run_seed.copy(), "_seed": np.ones(n, bool)}
        self._add_privileged(infos)
        return self._obs.copy(), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        n, b = self.num_envs, self._bind
        w = self.config.reward
        rewards = np.zeros(n)
        terminated, truncated = np.zeros(n, bool), np.zeros(n, bool)
        infos: dict[str, Any] = {}
        pending = np.flatnonzero(self._pending)
        if len(pending):  # NEXT_STEP: last step's finished members start again, action unused
            self._start(pending, None)
            self._pending[:] = False
        active = np.ones(n, bool)
        active[pending] = False
        # a member whose start failed (a controller error) ends now, as a single env's would
        failed = active & (self._start_failure != "")
        ids = np.flatnonzero(active & ~failed)

        raw = np.asarray(actions, np.float32)
        # a non-finite action ends its member's episode as a controller error, as a non-finite
        # command ends the hardware loop (NaN latches the safety stop: zero torque this step)
        broken = ~np.isfinite(raw).all(axis=1)
        a = np.minimum(np.maximum(raw, -1.0), 1.0)
        dev = self._device
        safe = np.zeros(a.shape)  # members not stepped this step: no torque
        safe[ids] = self._safety.filter(
            (a * self.config.action_scale_nm)[ids], self._joint_q[ids], self._joint_v[ids], ids
        )
        b["ctrl"][:, dev.motor] = saturate(
            safe,
            b["qvel"][:, dev.device_dof],
            dev.peak_torque_nm,
            dev.max_speed_rad_s,
        )
        controller_error = ""
        with quiet_mujoco_warnings():
            for _ in range(self._device_every // self._control_every):
                observed = measure(b["sensordata"], self._index)
                if self._on_course:
                    observed = np.concatenate([observed, self._course_tick(ids)], axis=1)
                try:
                    states, command = self._patient_step(self._params, self._states, observed)
                except Exception as exc:  # a controller bug ends the episodes, never the caller
                    controller_error = f"{type(exc).__name__}: {exc}"
                    break
                states = np.array(states)
                idle = ~active | failed  # their episode has not begun, or has ended
                states[idle] = self._states[idle]
                self._states = states
                b["ctrl"][:, : self._n_muscles] = np.asarray(command)
                if not self._on_course:
                    self._batch.step(ids=ids, nstep=self._control_every)
                    continue
                # forces change at the single simulation's tick boundaries (its loop's tick)
                for _ in range(self._control_every // self._tick):
                    self._perturb(ids)
                    self._batch.step(ids=ids, nstep=self._tick)
        self._physics_steps[ids] += self._device_every

        qvel = b["qvel"]
        fell, reasons = self._ended(ids)
        fell |= failed
        reasons[failed] = self._start_failure[failed]
        if controller_error:
            fell[ids], reasons[ids] = True, "controller_error"
        broken &= active & ~failed
        fell[broken], reasons[broken] = True, "controller_error"
        a = np.where(broken[:, None], 0.0, a).astype(np.float32)  # finite terms in the reward
        speed = qvel[:, self._pelvis_dof] - (qvel[:, self._belt_dof] if self._belt_dof else 0.0)
        heat = np.sum(b["act"] ** 0.6 * self._heat_w_kg, axis=1) if w.effort else 0.0
        if w.interaction:
            cuff = self._interaction()
            interaction = np.sum(cuff * cuff, axis=1)
        else:
            interaction = 0.0
        change = a.astype(np.float64) - self._last_action  # in float64, as a single env sums it
        self._last_action[ids] = a[ids]  # a member that starts again starts from rest
        load = b["sensordata"][:, self._load_index] / self._bw[:, None]
        strides = self._strides.update(b["time"], load, lambda: self._geom_xpos[:, self._heels, 0])
        for i in pending:  # their episode begins with the next step, as a single env's does
            self._strides.restart(int(i))
        asymmetry: Any = 0.0
        if strides is not None:
            for i in np.flatnonzero(~active | fell):  # no strides on a fall, as a single env
                strides[i] = []
            asymmetry = self._strides.asymmetry(strides, self._leg_m)
        touches: Any = 0
        if self._on_course:
            touched = np.empty(n, object)
            touched[:] = [[] for _ in range(n)]
            for i in ids[~fell[ids]]:
                touched[i] = self._runner(i).touches(self._rows[i])
            touches = np.array([len(t) for t in touched])
            infos["course_touches"], infos["_course_touches"] = touched, active.copy()
        reward = step_reward(
            w,
            self._dt,
            speed,
            heat,
            interaction,
            np.sum(change * change, axis=1),
            fell,
            asymmetry,
            touches,
        )
        rewards[ids] = reward[ids]
        terminated[ids] = fell[ids]
        truncated[ids] = ~fell[ids] & (self._physics_steps[ids] >= self._n_steps)
        done = terminated | truncated

        walking = np.flatnonzero(active & ~terminated)
        self._observe(walking, fresh=False)

        reason = np.full(n, "", object)
        reason[terminated] = reasons[terminated]
        reason[truncated] = "time_limit"
        infos["termination_reason"], infos["_termination_reason"] = reason, done.copy()
        stride_info = np.empty(n, object)
        stride_info[:] = [[] for _ in range(n)] if strides is None else strides
        infos["strides"], infos["_strides"] = stride_info, active.copy()
        finished = np.flatnonzero(done)
        if len(finished) and self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
            final_obs = np.empty(n, object)
            final_info = np.empty(n, object)
            for i in finished:
                final_obs[i] = self._obs[i].copy()
                final_info[i] = {"termination_reason": reason[i], "strides": stride_info[i]}
            self._start(finished, None)
            infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
            infos["final_info"], infos["_final_info"] = final_info, done.copy()
        else:
            self._pending[finished] = True
        self._add_privileged(infos)
        return self._obs.copy(), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        self._batch = None  # type: ignore[assignment]

    # --- internals ---------------------------------------------------------------------------

    def _start(self, members: np.ndarray, options: dict | None) -> None:
        """Start the members' episodes (as the single environment starts one) and hand their
        simulations to the batch."""
        b, models_changed = self._bind, False
        self._batch.reset(ids=members, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in members:
            episode = start_episode(self._setup, self._rngs[i], options)
            sim = episode.sim
            self._start_failure[i] = "" if sim.end is None else sim.end.reason
            for field in _STATE:
                b[field][i] = getattr(sim.data, field)
            params, state, self._control_every = sim.patient
            self._params[i], self._states[i] = params, state
            self._device_every, self._n_steps = sim.device_every, sim.n_steps
            self._tick = sim.tick_steps
            self._dt = sim.device_every * sim.dt
            if self._models[i] is not episode.built.model:
                self._models[i] = episode.built.model
                models_changed = True
            device = sim.device
            assert device is not None
            if self._sensors is None:
                self._sensors = DeviceSensors(
                    episode.scenario.device.sensing,
                    self._device.size,
                    1.0 / device.rate_hz,
                    [device.rng] * self.num_envs,
                    self._n_muscles,
                )
            self._sensors.restart(i, device.rng, episode.scenario.device.sensing)
            self._safety.restart(i)
            self._strides.restart(i)
            self._obs_index = episode.obs_index
            self._obs_scale[i] = episode.obs_scale
            self._heat_w_kg[i] = episode.heat_w_kg
            cuffs = episode.built.device
            assert cuffs is not None
            self._cuff_k[i], self._cuff_c[i] = (
                cuffs.cuff_stiffness_nm_rad,
                cuffs.cuff_damping_nms_rad,
            )
            self._bw[i] = episode.body_weight_n
            self._leg_m[i] = episode.leg_length_m
            limits = FallLimits.of(
                episode.built,
                sim.index,
                episode.scenario.run.fall_pelvis_height_fraction,
                episode.scenario.run.fall_trunk_pitch_rad,
            )
            self._rest_z[i], self._min_z[i] = limits.pelvis_rest_z_m, limits.min_pelvis_z_m
            self._fall = FallLimits(
                limits.pelvis_z_qpos,
                limits.pitch_qpos,
                self._rest_z,
                self._min_z,
                limits.max_pitch_rad,
            )
            self._physics_steps[i] = 0
            self._last_action[i] = 0.0
            self._run_seed[i] = episode.run_seed
            self._runners[i], self._pushes[i] = sim.course, sim.pushes
        if models_changed:
            self._batch.set_models(self._models)
        self._batch.forward(ids=members)  # derived fields (sensors) of the new states
        self._started = True
        self._observe(members, fresh=True)

    def _runner(self, i: int) -> CourseRunner:
        runner = self._runners[i]
        assert runner is not None, "a member on a course runs its episode's course runner"
        return runner

    def _course_tick(self, ids: np.ndarray) -> np.ndarray:
        """The planner's inputs per member (zero for members not stepped), after each
        stepped member's course runner has ticked, as the single simulation's does."""
        out = self._course_in
        out[:] = 0.0
        for i in ids:
            out[i] = self._runner(i).tick(self._rows[i])
        return out

    def _perturb(self, ids: np.ndarray) -> None:
        """The stepped members' pushes and belt-speed changes, before their physics steps."""
        for i in ids:
            row = self._rows[i]
            if self._pushes[i]:
                apply_pushes(row, self._index.pelvis_body, self._pushes[i])
            self._runner(i).apply(row)

    def _observe(self, members: np.ndarray, fresh: bool) -> None:
        """The members' device measurements into their observations (``self._obs``)."""
        if not len(members):
            return
        b = self._bind
        true = true_measurements_of(
            b["qpos"][members],
            b["qvel"][members],
            b["actuator_force"][members],
            b["sensordata"][members],
            b["xmat"][members],
            b["ctrl"][members],
            self._device_ix,
            self._n_emg,
        )
        assert self._sensors is not None
        measured = self._sensors.read(true, members)
        size = self._device.size
        self._joint_q[members] = measured[:, :size]  # device_layout: angles, then velocities
        self._joint_v[members] = measured[:, size : 2 * size]
        now = measured[:, self._obs_index] * self._obs_scale[members]
        flags = np.full(len(members), fresh)
        self._obs[members] = self._history.push(now, flags, members)

    def _add_privileged(self, infos: dict[str, Any]) -> None:
        """``infos["privileged"]`` (members, size) when the environment names a set."""
        names = self.config.observation.privileged
        if names:
            b = self._bind
            infos["privileged"] = privileged(
                names,
                measure(b["sensordata"], self._index),
                b["act"],
                self._interaction,
            )
            infos["_privileged"] = np.ones(self.num_envs, bool)

    def _interaction(self) -> np.ndarray:
        """Cuff torques per member (N m), each member with its own cuffs."""
        b = self._bind
        return interaction_torque_of(b["qpos"], b["qvel"], self._device, self._cuff_k, self._cuff_c)

    def _ended(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ended, reason) per member: a fall, or a blow-up or MuJoCo warning (MuJoCo resets
        a blown-up member itself: its warning counters are the record)."""
        b, n = self._bind, self.num_envs
        qpos, qvel = b["qpos"], b["qvel"]
        fallen = self._fall.fallen(qpos)
        counts = self._batch.warning[:, :, 1]
        warned = (counts > 0).any(axis=1)
        finite = np.isfinite(qpos.sum(axis=1) + qvel.sum(axis=1))
        ended = np.zeros(n, bool)
        ended[ids] = (fallen | warned | ~finite)[ids]
        reasons = np.full(n, "", object)
        for i in np.flatnonzero(ended):
            if warned[i]:
                reasons[i] = warning_reason(counts[i])[0]
            elif not finite[i]:
                reasons[i] = "numerical_instability"
            else:
                reasons[i] = "fall"
        return ended, reasons


class _Member:
    """One member's rows of the batch's arrays, as the ``mujoco.MjData`` fields a
    :class:`~gaitsim.sim.course.CourseRunner` and :func:`~gaitsim.sim.simulation.apply_pushes`
    read and write (views: writes go to the batch)."""

    def __init__(
        self, batch: mujoco.batch.Batch, bind: dict[str, np.ndarray], geom_xpos: np.ndarray, i: int
    ) -> None:
        self._time, self._i = bind["time"], i
        self.qpos, self.qvel, self.sensordata = (
            bind["qpos"][i],
            bind["qvel"][i],
            bind["sensordata"][i],
        )
        self.geom_xpos = geom_xpos[i]
        self.qfrc_applied = batch.bind("qfrc_applied")[i]
        self.xfrc_applied = batch.bind("xfrc_applied")[i]

    @property
    def time(self) -> float:
        return float(self._time[self._i])

"""Batched rollouts: many simulations of one model on MuJoCo's thread pool, the controller
called once per control tick for the whole batch under ``jax.vmap``.

``rollout`` is the one batched path that tuning, evaluation and (later) the vector env use.
Members that fall stop being stepped (early termination); what each member did is returned as
per-member summary numbers (no per-step traces: those come from ``simulate``). A device in the
model is worn unpowered (its motors at zero torque).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import mujoco.batch
import numpy as np

from gaitsim import constants as C
from gaitsim.control.interface import Controller
from gaitsim.control.loop import compile_for_batch, steps_per_tick
from gaitsim.metrics.energy import activation_heat_weights
from gaitsim.metrics.events import MIN_PHASE_S, MIN_SWING_S
from gaitsim.metrics.events import OFF_BW as UNLOADED_BW
from gaitsim.model import BuiltModel
from gaitsim.model.assemble import FOOT_VERTICAL_FORCE, muscle_parameters
from gaitsim.neural.reflex import CONTACT_LOAD_BW
from gaitsim.neural.supraspinal import COURSE_INPUTS
from gaitsim.sim.initial import FallLimits, quiet_mujoco_warnings, settle_activation
from gaitsim.sim.sensing import PATIENT_LAYOUT, body_index, measure

#: Vertical ground reaction above this many body weights counts as a spike (SCONE's
#: MeasureGait10Grf15 penalises GRF > 1.5 BW).
GRF_SPIKE_BW = 1.5
#: Joint angles closer than this to a joint's range limit count as limit loading (rad).
LIMIT_MARGIN_RAD = 0.05


@dataclass(frozen=True)
class TorqueNoise:
    """Random torques on the leg joints: an Ornstein-Uhlenbeck process per joint and member
    (stationary std ``std_nm``, correlation time ``time_constant_s``), held over a control
    tick. Tuning under it gives patients that tolerate what a worn device adds (its mass,
    friction and residual interaction torques) without knowing the device."""

    std_nm: float
    time_constant_s: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class StepAdjustments:
    """Random voluntary step-length adjustments, as the course planner
    (``gaitsim.neural.supraspinal``) makes them: at each lift-off, with ``probability``, the
    swing leg's target leg angle gets an offset drawn uniformly from ``[-max_rad, max_rad]``
    (negative lengthens the step), held until that foot lands. Tuning under them gives a
    walker whose steps follow the offsets closely and who recovers from them, which a course
    needs. Contact changes as the planner sees them: load above 0.1 body weight, a phase
    lasting at least MIN_PHASE_S, a lift-off only while the other foot is loaded.

    Member i draws from stream i % ``streams``, by swing count: members of one stream get
    the same offsets at their k-th swing of each leg (tuning compares candidates on common
    random numbers)."""

    max_rad: float
    probability: float = 0.5
    seed: int = 0
    streams: int = 1


#: Steps before this time (s) are the start's transient: not used for the placement fit.
PLACEMENT_FROM_S = 2.0
#: Fewest fitted steps for a placement figure (else NaN).
PLACEMENT_MIN_STEPS = 6
#: Swings per leg drawn ahead for each stream (a longer rollout reuses them in turn).
_SWINGS_DRAWN = 256


@dataclass(frozen=True)
class RolloutResult:
    """Per member (shape (N,)): what happened over the rollout."""

    alive_s: np.ndarray  # time survived (s); = duration for members that did not fall
    fell: np.ndarray  # bool: fell, or blew up (a MuJoCo warning)
    distance_m: np.ndarray  # pelvis forward displacement
    speed_m_s: np.ndarray  # mean forward speed: over the second half, or the whole run if fallen
    effort: np.ndarray  # integral of mean cubed activation over time (s)
    activation_heat_j: np.ndarray  # Umberger 2003 activation-maintenance heat (J), see below
    limit_penalty: np.ndarray  # integral of squared joint-limit intrusion (rad^2 s)
    grf_spike: np.ndarray  # integral of vertical GRF above 1.5 BW (BW s)
    swing_fraction: np.ndarray  # of the time survived, the smaller of the two feet's time in
    # swing: unloaded (vertical GRF below the 2 % BW toe-off threshold of gaitsim.metrics.events)
    # for at least MIN_SWING_S at a stretch, so toe scuffs and chatter do not count
    step_length_m: np.ndarray  # (N, 2) mean step length per side (left, right): heel x of the
    # foot minus that of the other when it lands after a swing (gaitsim.metrics' definition);
    # NaN for a side that took no such step
    # with StepAdjustments: each step (heel to heel at touchdown, from PLACEMENT_FROM_S) fitted
    # as a_left / a_right + g x the offset held, by least squares per member: the residual's
    # standard deviation (m) and g (m/rad); NaN without adjustments or with too few steps
    placement_sd_m: np.ndarray | None = None
    placement_gain_m_rad: np.ndarray | None = None


def rollout(
    built: BuiltModel,
    controllers: list[Controller],
    qpos0: np.ndarray,
    qvel0: np.ndarray,
    duration_s: float,
    fall_height_fraction: float = 0.6,
    fall_pitch_rad: float = 1.0,
    nthread: int = 2,
    torque_noise: TorqueNoise | None = None,
    step_adjustments: StepAdjustments | None = None,
) -> RolloutResult:
    """Run N members (one controller each, same structure) from (N, nq)/(N, nv) states.

    A member ends when it falls or MuJoCo warns for it (the end criteria of
    :mod:`gaitsim.sim.initial`, as in ``simulate``); MuJoCo's warning text is kept off stdout.
    ``torque_noise`` disturbs every leg joint of every member (robust tuning);
    ``step_adjustments`` feeds the controllers random step-length offsets through the course
    inputs (``COURSE_INPUTS``; the controllers must read them, as the reflex controller does).
    """
    with quiet_mujoco_warnings():
        return _rollout(
            built,
            controllers,
            qpos0,
            qvel0,
            duration_s,
            fall_height_fraction,
            fall_pitch_rad,
            nthread,
            torque_noise,
            step_adjustments,
        )


def _rollout(
    built: BuiltModel,
    controllers: list[Controller],
    qpos0: np.ndarray,
    qvel0: np.ndarray,
    duration_s: float,
    fall_height_fraction: float,
    fall_pitch_rad: float,
    nthread: int,
    torque_noise: TorqueNoise | None,
    step_adjustments: StepAdjustments | None,
) -> RolloutResult:
    model, n = built.model, len(controllers)
    muscles = slice(0, len(built.muscle_names))  # a device's motors follow, unpowered here
    index = body_index(model)
    layout = PATIENT_LAYOUT + COURSE_INPUTS if step_adjustments is not None else PATIENT_LAYOUT
    flat_params, flat_state, step = compile_for_batch(controllers, None, layout)
    adjust = _Adjuster(step_adjustments, n) if step_adjustments is not None else None

    x_q = index.qpos["pelvis_x"]
    limits = FallLimits.of(built, index, fall_height_fraction, fall_pitch_rad)
    load = [index.foot_sensor[s] + FOOT_VERTICAL_FORCE for s in C.SIDES]
    batch = mujoco.batch.Batch(model, nsim=n, nthread=nthread)
    qpos, qvel, ctrl = batch.bind("qpos"), batch.bind("qvel"), batch.bind("ctrl")
    act = batch.bind("act")
    applied = batch.bind("qfrc_applied")
    geom_xpos = batch.bind("geom_xpos")
    heels = [index.heel_geom[s] for s in C.SIDES]
    sensor = batch.bind("sensordata")
    batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
    qpos[:], qvel[:] = qpos0, qvel0

    def observe() -> np.ndarray:
        obs = measure(sensor, index)
        return obs if adjust is None else np.concatenate([obs, adjust.inputs()], axis=1)

    def excitation_now() -> np.ndarray:
        return np.asarray(step(flat_params, flat_state, observe())[1])

    settle_activation(batch.forward, excitation_now, act)

    dt = model.opt.timestep
    nstep = steps_per_tick(controllers[0].rate_hz, dt)
    tick = nstep * dt
    n_ticks = max(1, round(duration_s / tick))
    lo, hi = model.jnt_range[model.dof_jntid[index.leg_dof]].T  # leg joints, angle order
    bw = built.mass_kg * C.G_M_S2

    alive = np.ones(n, bool)
    alive_s = np.zeros(n)
    belt = index.belt_qpos  # on a treadmill, distances are over the belt

    def forward_x() -> np.ndarray:
        return qpos[:, x_q] - (0.0 if belt is None else qpos[:, belt])

    x0 = forward_x()
    half_x = np.full(n, np.nan)
    effort, limit_pen, spike = np.zeros(n), np.zeros(n), np.zeros(n)
    heat = np.zeros(n)
    # Umberger 2003's activation-maintenance heat (gaitsim.metrics.energy), activation for A
    heat_w = activation_heat_weights(muscle_parameters(built), built.muscle_names)
    swing_s, stretch = np.zeros((n, 2)), np.zeros((n, 2))
    step_sum, step_count = np.zeros((n, 2)), np.zeros((n, 2))
    if torque_noise is not None:
        rng = np.random.default_rng(torque_noise.seed)
        decay = np.exp(-tick / torque_noise.time_constant_s)
        disturbance = torque_noise.std_nm * rng.standard_normal((n, len(index.leg_dof)))
    for k in range(n_ticks):
        flat_state, command = step(flat_params, flat_state, observe())
        ctrl[:, muscles] = np.asarray(command)
        if torque_noise is not None:
            applied[:, index.leg_dof] = disturbance
            fresh = rng.standard_normal(disturbance.shape)
            disturbance = decay * disturbance + np.sqrt(1 - decay**2) * torque_noise.std_nm * fresh
        ids = np.flatnonzero(alive)
        batch.step(ids=ids, nstep=nstep)
        # accumulate over the members that were alive during this tick
        a = alive
        effort[a] += np.mean(act[a] ** 3, axis=1) * tick
        heat[a] += (act[a] ** 0.6 @ heat_w) * tick
        q = qpos[a][:, index.leg_qpos]
        intrusion = np.maximum(lo + LIMIT_MARGIN_RAD - q, 0) + np.maximum(
            q - hi + LIMIT_MARGIN_RAD, 0
        )
        limit_pen[a] += np.sum(intrusion**2, axis=1) * tick
        feet = sensor[a][:, load] / bw
        spike[a] += np.sum(np.maximum(feet - GRF_SPIKE_BW, 0), axis=1) * tick
        up = feet < UNLOADED_BW
        ended = ~up & (stretch[a] >= MIN_SWING_S)
        swing_s[a] += np.where(ended, stretch[a], 0.0)
        heel_x = geom_xpos[:, heels, 0][a]  # step lengths are differences: belt-free
        step_sum[a] += np.where(ended, heel_x - heel_x[:, ::-1], 0.0)
        step_count[a] += ended
        stretch[a] = np.where(up, stretch[a] + tick, 0.0)
        if adjust is not None:
            adjust.update((k + 1) * tick, sensor[:, load] > CONTACT_LOAD_BW * bw, heel_x, a)
        alive_s[a] += tick
        if k + 1 == n_ticks // 2:  # after n_ticks // 2 ticks: the start of the second half
            half_x = forward_x()
        # MuJoCo resets a blown-up member itself: its warning count is the record
        alive &= ~(limits.fallen(qpos) | (batch.warning[:, :, 1] > 0).any(axis=1))
        if not alive.any():
            break
    x_end = np.where(np.isfinite(forward_x()), forward_x(), x0)
    fell = ~alive
    late = np.where(np.isnan(half_x), x0, half_x)
    second_half = (n_ticks - n_ticks // 2) * tick
    speed = np.where(fell, (x_end - x0) / np.maximum(alive_s, 1e-9), (x_end - late) / second_half)
    swing_s += np.where(stretch >= MIN_SWING_S, stretch, 0.0)
    swing = swing_s.min(axis=1) / np.maximum(alive_s, 1e-9)
    with np.errstate(invalid="ignore"):
        steps = step_sum / step_count
    placement = adjust.placement() if adjust is not None else (None, None)
    return RolloutResult(
        alive_s, fell, x_end - x0, speed, effort, heat, limit_pen, spike, swing, steps, *placement
    )


class _Adjuster:
    """The random step adjustments of a rollout (:class:`StepAdjustments`): each member's
    contact phases, the offsets held, and the normal equations of its placement fit."""

    def __init__(self, settings: StepAdjustments, n: int) -> None:
        rng = np.random.default_rng(settings.seed)
        shape = (settings.streams, 2, _SWINGS_DRAWN)
        chosen = rng.random(shape) < settings.probability
        self.table = np.where(chosen, rng.uniform(-settings.max_rad, settings.max_rad, shape), 0)
        self.stream = np.arange(n) % settings.streams
        self.swings = np.zeros((n, 2), int)
        self.loaded = np.ones((n, 2), bool)
        self.since = np.zeros((n, 2))
        self.offset = np.zeros((n, 2))
        self.xtx, self.xty = np.zeros((n, 3, 3)), np.zeros((n, 3))
        self.yty, self.count = np.zeros(n), np.zeros(n)

    def inputs(self) -> np.ndarray:
        """The course inputs (offsets per leg, no swing lift), float32 (N, 4)."""
        return np.concatenate([self.offset, np.zeros_like(self.offset)], axis=1).astype(np.float32)

    def update(self, t: float, loaded: np.ndarray, heel_x: np.ndarray, alive: np.ndarray) -> None:
        """One tick: ``loaded`` (N, 2) for all members, ``heel_x`` (alive members, 2)."""
        held = t - self.since >= MIN_PHASE_S
        live = alive[:, None]
        down = live & loaded & ~self.loaded & held
        up = live & ~loaded & self.loaded & held & loaded[:, ::-1]
        members, legs = np.nonzero(down)
        if members.size and t >= PLACEMENT_FROM_S:
            row = np.cumsum(alive) - 1  # member -> row of heel_x
            steps = heel_x[row[members], legs] - heel_x[row[members], 1 - legs]
            x = np.zeros((members.size, 3))
            x[np.arange(members.size), legs] = 1.0
            x[:, 2] = self.offset[members, legs]
            ok = (steps > 0) & (steps < 2.0)  # a foot landing behind or a stumble: no step
            i, x, y = members[ok], x[ok], steps[ok]
            np.add.at(self.xtx, i, x[:, :, None] * x[:, None, :])
            np.add.at(self.xty, i, x * y[:, None])
            np.add.at(self.yty, i, y * y)
            np.add.at(self.count, i, 1)
        self.offset[down] = 0.0
        members, legs = np.nonzero(up)
        turn = self.swings[members, legs] % _SWINGS_DRAWN
        self.offset[members, legs] = self.table[self.stream[members], legs, turn]
        self.swings[members, legs] += 1
        change = down | up
        self.loaded[change] = loaded[change]
        self.since[change] = t

    def placement(self) -> tuple[np.ndarray, np.ndarray]:
        """Per member: the placement fit's residual SD (m) and gain (m/rad); NaN if unfit."""
        n = len(self.count)
        sd, gain = np.full(n, np.nan), np.full(n, np.nan)
        for i in np.flatnonzero(self.count >= PLACEMENT_MIN_STEPS):
            # a tiny ridge: a member whose offsets happened to be all zero still solves
            b = np.linalg.solve(self.xtx[i] + 1e-6 * np.eye(3), self.xty[i])
            residual = max(self.yty[i] - b @ self.xty[i], 0.0)
            sd[i], gain[i] = np.sqrt(residual / (self.count[i] - 3)), b[2]
        return sd, gain

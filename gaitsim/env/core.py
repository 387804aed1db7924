"""What the single and the vector environment share, so the two can never differ: the setup
of an environment file, the start of an episode, the reward, the observation history and the
online stride detection. Everything per step works on arrays with a leading member axis (one
member for the single environment).

Reward per step (weights from the environment file):

- ``alive`` x dt, while the patient walks;
- ``- speed`` x (v - target)^2 x dt, v the pelvis's forward speed over the ground (belt);
- ``- effort`` x the muscles' activation heat per kg (Umberger 2003, W/kg) x dt;
- ``- interaction`` x the sum of squared cuff torques (N^2 m^2) x dt;
- ``- smoothness`` x the sum of squared action changes;
- ``- symmetry`` x |this step's length - the other side's last| / leg length, at each step
  (heel strike after a swing) once both sides have stepped: step-length asymmetry, the
  clinical hallmark of hemiparetic gait (Patterson 2010 [memory]);
- ``- obstacle`` x the number of projected obstacles a foot first touches in the step (on a
  course; online, :meth:`gaitsim.sim.course.CourseRunner.touches`): the clinic's obstacle
  hit, which VR gait training counts against the patient (REFERENCES 7);
- ``- fall`` once, when the episode ends in a fall or a blow-up (instead of the walking terms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.catalogue import resolve_scenario
from gaitsim.control.features import feature_scale
from gaitsim.env.config import EnvConfig, Reward
from gaitsim.metrics.energy import activation_heat_weights
from gaitsim.metrics.events import MIN_SWING_S, OFF_BW, ON_BW
from gaitsim.model import BuiltModel, build_scenario
from gaitsim.model.assemble import muscle_parameters
from gaitsim.sim.device import device_layout
from gaitsim.sim.initial import quiet_mujoco_warnings
from gaitsim.sim.sensing import PATIENT_LAYOUT, layout_slices
from gaitsim.sim.simulation import Simulation
from gaitsim.spec import Device, DeviceSensing, Scenario


@dataclass(frozen=True)
class EnvSetup:
    """An environment file resolved: its scenario (episode length and initial perturbation
    applied), the nominal body, and the spaces of one member."""

    config: EnvConfig
    scenario: Scenario
    built: BuiltModel
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Box


def decision_rate_hz(config: EnvConfig, scenario: Scenario | None = None) -> float:
    """The agent's decision rate: the file's ``rate_hz``, else its scenario's device rate
    (``scenario``: the file's scenario, when already loaded)."""
    if config.rate_hz is not None:
        return config.rate_hz
    base = scenario or spec.load(resolve_scenario(config.scenario))
    return base.device.rate_hz


def env_setup(config: EnvConfig) -> EnvSetup:
    """Resolve and check an environment file (errors name the id and the field)."""
    base = spec.load(resolve_scenario(config.scenario))
    if base.device.kind == "none":
        raise ValueError(f"{config.id}: scenario {base.name!r} has no device to control")
    r = config.randomization
    rate_hz = decision_rate_hz(config, base)
    # a whole number of the agent's steps (the last one is never cut short)
    ticks = math.ceil(config.episode_s * rate_hz - 1e-9)
    run = base.run.model_copy(
        update={
            "duration_s": ticks / rate_hz,
            "initial_angle_noise_rad": r.initial_angle_noise_rad,
            "initial_speed_noise_m_s": r.initial_speed_noise_m_s,
        }
    )
    update: dict[str, Any] = {"run": run}
    if rate_hz != base.device.rate_hz:
        update["device"] = base.device.model_copy(update={"rate_hz": rate_hz})
    scenario = base.model_copy(update=update)
    generator = base.course.generate
    if r.course and (generator is None or generator.kind == "terrain"):
        raise ValueError(
            f"{config.id}: randomization.course = true needs a scenario with a "
            "[course.generate] of kind 'obstacles' or 'targets' (projected: the model stays "
            f"the same); {base.name!r} has " + ("none" if generator is None else "kind 'terrain'")
        )
    built = build_scenario(scenario)  # the nominal body; rebuilt per episode when randomised
    assert built.device is not None
    n = built.device.size
    emg = len(built.muscle_names) if base.device.sensing.emg else 0
    try:  # the one definition of what the agent sees (and of what the device measures)
        per_tick = len(
            feature_scale(
                config.observation.sensors,
                device_layout(n, emg),
                built.device.peak_torque_nm,
                built.mass_kg,
            )
        )
    except ValueError as exc:
        raise ValueError(f"{config.id}: observation.sensors: {exc}") from None
    return EnvSetup(
        config,
        scenario,
        built,
        gym.spaces.Box(-np.inf, np.inf, (per_tick * config.observation.history,), np.float32),
        gym.spaces.Box(-1.0, 1.0, (n,), np.float32),
    )


@dataclass(frozen=True)
class Episode:
    """One episode's patient, simulation and the per-episode constants of its terms."""

    scenario: Scenario
    built: BuiltModel
    sim: Simulation
    run_seed: int
    drawn: dict[str, float]  # the randomised quantities' values (empty: the scenario's)
    obs_index: np.ndarray  # into the packed device measurement
    obs_scale: np.ndarray  # gaitsim.control.features
    heat_w_kg: np.ndarray  # activation heat weights per kg (Umberger 2003)
    body_weight_n: float
    leg_length_m: float


def start_episode(
    setup: EnvSetup, rng: np.random.Generator, options: dict | None, record: bool = False
) -> Episode:
    """Draw an episode's patient and run seed from ``rng`` and start its simulation;
    ``options["run_seed"]`` replays the scenario's own patient from that run seed."""
    r = setup.config.randomization
    scenario, built = setup.scenario, setup.built
    replay = (options or {}).get("run_seed")
    drawn: dict[str, float] = {}
    if replay is None:  # a fixed order of draws, each only when configured
        for name in ("height_m", "mass_kg", *_DEVICE_DRAWS):
            bounds = getattr(r, name)
            if bounds is not None:
                drawn[name] = float(rng.uniform(*bounds))
    patient: dict[str, Any] = {k: drawn[k] for k in ("height_m", "mass_kg") if k in drawn}
    if patient:
        scenario = scenario.model_copy(
            update={"patient": scenario.patient.model_copy(update=patient)}
        )
    if any(k in drawn for k in _DEVICE_DRAWS):
        scenario = scenario.model_copy(update={"device": _device_drawn(scenario.device, drawn)})
    if replay is None and r.course:
        drawn["course_seed"] = float(rng.integers(2**31))
        scenario = scenario.model_copy(
            update={"course": _course_drawn(scenario, int(drawn["course_seed"]))}
        )
    if patient or "cuff_stiffness_scale" in drawn:  # the model changes; sensing does not
        built = build_scenario(scenario)
    run_seed = int(rng.integers(2**31)) if replay is None else int(replay)
    with quiet_mujoco_warnings():
        sim = Simulation(scenario, run_seed, built, external_device=True, record=record)
    device = sim.device
    assert device is not None
    signals = setup.config.observation.sensors
    slices = layout_slices(device.layout)
    heat_w = activation_heat_weights(muscle_parameters(built), built.muscle_names)
    return Episode(
        scenario,
        built,
        sim,
        run_seed,
        drawn,
        np.concatenate([np.arange(slices[s].start, slices[s].stop) for s in signals]),
        feature_scale(signals, device.layout, device.device.peak_torque_nm, built.mass_kg),
        heat_w / built.mass_kg,
        built.mass_kg * C.G_M_S2,
        built.leg_length_m,
    )


def privileged(
    names: tuple[str, ...],
    patient: np.ndarray,
    act: np.ndarray,
    interaction_nm: Any,
) -> np.ndarray:
    """The privileged signals ``names`` (``EnvConfig.observation.privileged``) concatenated,
    from the packed patient measurements (``gaitsim.sim.sensing.measure``), the muscle
    activations and the cuffs' interaction torques; one member or a batch (leading axis)."""
    slices = layout_slices(PATIENT_LAYOUT)
    parts = []
    for name in names:
        if name == "muscle_activation":
            parts.append(act)
        elif name == "interaction_torque_nm":
            parts.append(interaction_nm())
        else:
            parts.append(patient[..., slices[name]])
    return np.concatenate(parts, axis=-1).astype(np.float32)


_DEVICE_DRAWS = ("cuff_stiffness_scale", "sensor_noise_scale", "sensor_latency_s")


def _device_drawn(device: Device, drawn: dict[str, float]) -> Device:
    """The scenario's device with the drawn cuff stiffness factor, sensor noise factor and
    sensor latency."""
    update: dict[str, Any] = {}
    if "cuff_stiffness_scale" in drawn:
        k = drawn["cuff_stiffness_scale"]
        update["modules"] = tuple(
            m.model_copy(update={"cuff_stiffness_nm_rad": min(5000.0, m.cuff_stiffness_nm_rad * k)})
            for m in device.modules
        )
    s = device.sensing
    sensing: dict[str, Any] = {}
    if "sensor_noise_scale" in drawn:
        f = drawn["sensor_noise_scale"]
        for name in NOISE_FIELDS:
            bound = DeviceSensing.model_fields[name].metadata
            top = min(getattr(m, "le", np.inf) for m in bound)
            sensing[name] = min(top, getattr(s, name) * f)
    if "sensor_latency_s" in drawn:
        sensing["latency_s"] = drawn["sensor_latency_s"]
    if sensing:
        update["sensing"] = s.model_copy(update=sensing)
    return device.model_copy(update=update)


def _course_drawn(scenario: Scenario, seed: int) -> spec.Course:
    """The scenario's generated course drawn again from ``seed``, sized to its patient."""
    from gaitsim.courses import generate

    course, gen = scenario.course, scenario.course.generate
    assert gen is not None
    elements = generate(
        gen.kind,
        gen.difficulty,
        gen.count,
        seed,
        spec.LEG_PER_HEIGHT * scenario.patient.height_m,
        gen.start_m,
        gen.response_time_s,
        gen.obstacle_length_leg,
    )
    return spec.Course.model_validate(
        {
            **course.model_dump(exclude={"elements", "generate"}),
            "generate": gen.model_copy(update={"seed": seed}).model_dump(),
            "elements": elements,
        }
    )


#: The device sensors' noise levels ``sensor_noise_scale`` multiplies.
NOISE_FIELDS = (
    "torque_noise_nm",
    "imu_angle_noise_rad",
    "imu_rate_noise_rad_s",
    "insole_noise_n",
    "emg_noise",
)


def step_reward(
    w: Reward,
    dt: float,
    speed: Any,
    heat: Any,
    interaction_sq: Any,
    change_sq: Any,
    fell: Any,
    asymmetry: Any = 0.0,
    touches: Any = 0,
) -> Any:
    """The step's reward per member (see the module's docstring); scalars or arrays."""
    walking = (
        dt
        * (
            w.alive
            - w.speed * (speed - w.target_speed_m_s) ** 2
            - w.effort * heat
            - w.interaction * interaction_sq
        )
        - w.symmetry * asymmetry
        - w.obstacle * touches
    )
    if isinstance(fell, bool):  # one member: plain floats (np.where costs more than the sum)
        return (-w.fall if fell else walking) - w.smoothness * change_sq
    return np.where(fell, -w.fall, walking) - w.smoothness * change_sq


class History:
    """The last ``k`` observations per member, newest first; a member's first observation
    (``fresh``) fills its history."""

    def __init__(self, members: int, k: int, size: int) -> None:
        self._buf = np.zeros((members, k, size), np.float32)

    def push(
        self, now: np.ndarray, fresh: np.ndarray | None = None, members: np.ndarray | None = None
    ) -> np.ndarray:
        """Add ``now`` (members, size) for all members, or for the ``members`` given (indices);
        returns their flat observations (members, k x size)."""
        buf = self._buf if members is None else self._buf[members]
        buf[:, 1:] = buf[:, :-1]
        buf[:, 0] = now
        if fresh is not None and fresh.any():
            buf[fresh] = now[fresh][:, None, :]
        if members is not None:
            self._buf[members] = buf
        return buf.reshape(len(buf), -1).copy()


class StrideDetector:
    """Heel strikes on the feet's vertical force, online, with the gait analysis's
    thresholds (``gaitsim.metrics.events``: off below OFF_BW, on above ON_BW body weights)
    and minimum swing (a foot off the ground for less than MIN_SWING_S has not swung: a toe
    scuff)."""

    def __init__(self, members: int) -> None:
        self._loaded = np.ones((members, 2), bool)
        self._last_strike = np.full((members, 2), np.nan)
        self._lifted = np.full((members, 2), -np.inf)
        self._last_step = np.full((members, 2), np.nan)

    def restart(self, member: int) -> None:
        self._loaded[member] = True
        self._last_strike[member] = np.nan
        self._lifted[member] = -np.inf
        self._last_step[member] = np.nan

    def asymmetry(self, strides: list[list[dict[str, Any]]], leg_length_m: Any) -> np.ndarray:
        """Per member, the sum over the strides just finished of |step length - the other
        side's last step length| / leg length (0 until both sides have stepped)."""
        out = np.zeros(len(strides))
        legs = np.broadcast_to(leg_length_m, out.shape)
        for m, finished in enumerate(strides):
            for s in finished:
                k = C.SIDES.index(s["side"])
                other = self._last_step[m, 1 - k]
                if np.isfinite(other):
                    out[m] += abs(s["step_length_m"] - other) / legs[m]
                self._last_step[m, k] = s["step_length_m"]
        return out

    def quiet(self, left_bw: float, right_bw: float) -> bool:
        """One member's loads (body weights): True when neither foot crosses its threshold,
        so :meth:`update` would change nothing (its first test, on Python numbers: most
        steps of a single env end here)."""
        left, right = self._loaded[0].tolist()
        return (left_bw >= OFF_BW if left else left_bw <= ON_BW) and (
            right_bw >= OFF_BW if right else right_bw <= ON_BW
        )

    def update(
        self, time_s: np.ndarray, load_bw: np.ndarray, heel_x: Any
    ) -> list[list[dict[str, Any]]] | None:
        """Feed this step's time (members,) and loads (members, 2, in body weights); returns
        per member the strides finished (side, stride time, step length over the ground),
        or None when no member finished one (most steps). ``heel_x()`` gives the heels'
        forward positions (members, 2), read only when needed."""
        loaded = self._loaded
        # a foot changes state when it crosses its threshold: lifts off if loaded, lands if not
        flips = np.where(loaded, load_bw < OFF_BW, load_bw > ON_BW)
        if not flips.any():  # most steps: one test
            return None
        lifting, landing = loaded & flips, ~loaded & flips
        self._lifted = np.where(lifting, time_s[:, None], self._lifted)
        self._loaded = loaded ^ flips
        if not landing.any():
            return None
        out: list[list[dict[str, Any]]] = [[] for _ in range(len(loaded))]
        x = heel_x()
        for m, k in zip(*np.nonzero(landing), strict=True):
            t = float(time_s[m])
            if t - self._lifted[m, k] < MIN_SWING_S:
                continue
            if np.isfinite(self._last_strike[m, k]):
                out[m].append(
                    {
                        "side": C.SIDES[k],
                        "stride_time_s": t - float(self._last_strike[m, k]),
                        "step_length_m": float(x[m, k] - x[m, 1 - k]),
                    }
                )
            self._last_strike[m, k] = t
        return out

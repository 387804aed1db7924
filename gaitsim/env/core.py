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
- ``- fall`` once, when the episode ends in a fall or a blow-up (instead of the walking terms).
"""

from __future__ import annotations

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
from gaitsim.sim.sensing import layout_slices
from gaitsim.sim.simulation import Simulation
from gaitsim.spec import Scenario


@dataclass(frozen=True)
class EnvSetup:
    """An environment file resolved: its scenario (episode length and initial perturbation
    applied), the nominal body, and the spaces of one member."""

    config: EnvConfig
    scenario: Scenario
    built: BuiltModel
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Box


def env_setup(config: EnvConfig) -> EnvSetup:
    """Resolve and check an environment file (errors name the id and the field)."""
    base = spec.load(resolve_scenario(config.scenario))
    if base.device.kind == "none":
        raise ValueError(f"{config.id}: scenario {base.name!r} has no device to control")
    r = config.randomization
    run = base.run.model_copy(
        update={
            "duration_s": config.episode_s,
            "initial_angle_noise_rad": r.initial_angle_noise_rad,
            "initial_speed_noise_m_s": r.initial_speed_noise_m_s,
        }
    )
    scenario = base.model_copy(update={"run": run})
    built = build_scenario(scenario)  # the nominal body; rebuilt per episode when randomised
    assert built.device is not None
    n = built.device.size
    emg = len(built.muscle_names) if base.device.sensing.emg else 0
    sizes = dict(device_layout(n, emg))
    missing = [s for s in config.observation.sensors if s not in sizes]
    if missing:
        raise ValueError(
            f"{config.id}: observation.sensors {missing}: the scenario's device does "
            "not measure them (EMG needs device.sensing.emg = true)"
        )
    per_tick = sum(sizes[s] for s in config.observation.sensors)
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
    patient: dict[str, float]  # the drawn body size (empty: the scenario's)
    obs_index: np.ndarray  # into the packed device measurement
    obs_scale: np.ndarray  # gaitsim.control.features
    heat_w_kg: np.ndarray  # activation heat weights per kg (Umberger 2003)
    body_weight_n: float


def start_episode(
    setup: EnvSetup, rng: np.random.Generator, options: dict | None, record: bool = False
) -> Episode:
    """Draw an episode's patient and run seed from ``rng`` and start its simulation;
    ``options["run_seed"]`` replays the scenario's own patient from that run seed."""
    r = setup.config.randomization
    scenario, built = setup.scenario, setup.built
    replay = (options or {}).get("run_seed")
    patient: dict[str, float] = {}
    if replay is None and r.height_m is not None:
        patient["height_m"] = float(rng.uniform(*r.height_m))
    if replay is None and r.mass_kg is not None:
        patient["mass_kg"] = float(rng.uniform(*r.mass_kg))
    if patient:
        scenario = scenario.model_copy(
            update={"patient": scenario.patient.model_copy(update=patient)}
        )
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
        patient,
        np.concatenate([np.arange(slices[s].start, slices[s].stop) for s in signals]),
        feature_scale(signals, device.layout, device.device.peak_torque_nm, built.mass_kg),
        heat_w / built.mass_kg,
        built.mass_kg * C.G_M_S2,
    )


def step_reward(
    w: Reward,
    dt: float,
    speed: Any,
    heat: Any,
    interaction_sq: Any,
    change_sq: Any,
    fell: Any,
) -> Any:
    """The step's reward per member (see the module's docstring); scalars or arrays."""
    walking = dt * (
        w.alive
        - w.speed * (speed - w.target_speed_m_s) ** 2
        - w.effort * heat
        - w.interaction * interaction_sq
    )
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

    def restart(self, member: int) -> None:
        self._loaded[member] = True
        self._last_strike[member] = np.nan
        self._lifted[member] = -np.inf

    def update(
        self, time_s: np.ndarray, load_bw: np.ndarray, heel_x: Any
    ) -> list[list[dict[str, Any]]] | None:
        """Feed this step's time (members,) and loads (members, 2, in body weights); returns
        per member the strides finished (side, stride time, step length over the ground),
        or None when no member finished one (most steps). ``heel_x()`` gives the heels'
        forward positions (members, 2), read only when needed."""
        loaded = self._loaded
        lifting = loaded & (load_bw < OFF_BW)
        self._lifted[lifting] = np.broadcast_to(time_s[:, None], lifting.shape)[lifting]
        landing = ~loaded & (load_bw > ON_BW)
        self._loaded = (loaded & ~lifting) | landing
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

"""The environment catalogue: one TOML file per Gymnasium id in envs/.

A file names the scenario (its patient, device and course), what the agent observes and
commands, the reward terms and their weights, the episode length and the domain
randomisation. Every field is validated; a bad file is an error naming the file and field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gaitsim.catalogue import NotInCatalogue, catalogue_dir, resolve
from gaitsim.sim.initial import ANGLE_NOISE_RAD, SPEED_NOISE_M_S

Signal = Literal[
    "joint_angle_rad",
    "joint_velocity_rad_s",
    "motor_torque_nm",
    "foot_load_n",
    "thigh_angle_rad",
    "thigh_rate_rad_s",
    "shank_angle_rad",
    "shank_rate_rad_s",
    "emg",
]
Weight = Annotated[float, Field(ge=0.0, le=1000.0)]
Range = Annotated[tuple[float, float], Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Privileged = Literal[
    "muscle_length_m",
    "muscle_velocity_m_s",
    "muscle_force_n",
    "joint_angle_rad",
    "joint_velocity_rad_s",
    "foot_load_n",
    "trunk_pitch_rad",
    "trunk_pitch_rate_rad_s",
    "pelvis_velocity_m_s",
    "muscle_activation",
    "interaction_torque_nm",
]


class Observation(_Strict):
    """What the agent sees: the device's sensors (``gaitsim.sim.device``), the last
    ``history`` device ticks of them stacked (newest first). ``privileged``: simulator
    signals a robot does not measure, for critics (asymmetric actor-critic), handed in
    ``info["privileged"]`` each step (and at reset), never in the observation: the patient's
    muscle-level and joint measurements (``gaitsim.sim.sensing.PATIENT_LAYOUT``), the
    muscles' activations and the cuffs' interaction torques, unscaled SI values."""

    sensors: Annotated[tuple[Signal, ...], Field(strict=False, min_length=1)]
    history: Annotated[int, Field(ge=1, le=50)] = 1
    privileged: Annotated[tuple[Privileged, ...], Field(strict=False)] = ()


class Reward(_Strict):
    """Reward per step = sum of weighted terms (each documented in ``gaitsim.env.single``)."""

    alive: Weight = 1.0
    speed: Weight = 1.0
    target_speed_m_s: Annotated[float, Field(gt=0.0, le=3.0)] = 1.0
    effort: Weight = 0.0
    interaction: Weight = 0.0
    smoothness: Weight = 0.0
    symmetry: Weight = 0.0
    obstacle: Weight = 0.0
    fall: Weight = 10.0


#: What each drawn quantity may range over (the scenario schema's bounds where it has one).
_RANGES = {
    "height_m": (1.2, 2.2),
    "mass_kg": (25.0, 200.0),
    "cuff_stiffness_scale": (0.1, 10.0),
    "sensor_noise_scale": (0.0, 10.0),
    "sensor_latency_s": (0.0, 0.1),
}


class Randomization(_Strict):
    """Per episode: uniform draws of the body's size, of the device's cuff stiffness (a
    factor on every module's), of its sensors' noise (a factor on every noise std) and
    latency (empty: the scenario's values); ``course``: a course drawn anew each episode from
    the scenario's generator (``[course.generate]``, projected kinds only: the model stays
    the same) with a seed drawn per episode; and the seeded perturbation of the initial gait
    state (std of angles, rad; of speed, m/s; by default ``gaitsim compare``'s, so an episode
    of a given run seed on the scenario's own patient, device and course is that seed's run
    in ``gaitsim compare``)."""

    height_m: Range | None = None
    mass_kg: Range | None = None
    cuff_stiffness_scale: Range | None = None
    sensor_noise_scale: Range | None = None
    sensor_latency_s: Range | None = None
    course: bool = False
    initial_angle_noise_rad: Annotated[float, Field(ge=0.0, le=0.2)] = ANGLE_NOISE_RAD
    initial_speed_noise_m_s: Annotated[float, Field(ge=0.0, le=0.5)] = SPEED_NOISE_M_S

    @field_validator(
        "height_m", "mass_kg", "cuff_stiffness_scale", "sensor_noise_scale", "sensor_latency_s"
    )
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None, info) -> tuple[float, float] | None:
        if value is None:
            return value
        if value[0] > value[1]:
            raise ValueError("range must be (low, high) with low <= high")
        allowed = _RANGES[info.field_name]
        if value[0] < allowed[0] or value[1] > allowed[1]:
            raise ValueError(f"range must lie within [{allowed[0]}, {allowed[1]}]")
        return value


class EnvConfig(_Strict):
    """One environment id."""

    id: str
    description: str = ""
    scenario: str
    episode_s: Annotated[float, Field(gt=0.0, le=600.0)] = 10.0
    action_scale_nm: Annotated[float, Field(gt=0.0, le=500.0)] = 10.0
    #: the agent's decision rate: the device's loop rate in this environment's episodes (None:
    #: the scenario's ``device.rate_hz``); an exported policy runs at it everywhere
    rate_hz: Annotated[float, Field(gt=0.0, le=2000.0)] | None = None
    observation: Observation
    reward: Reward = Field(default_factory=Reward)
    randomization: Randomization = Field(default_factory=Randomization)

    @field_validator("id")
    @classmethod
    def _gymnasium_id(cls, value: str) -> str:
        if not value.startswith("gaitsim/") or not value.endswith(("-v0", "-v1", "-v2")):
            raise ValueError("an id is 'gaitsim/<Name>-v<N>'")
        return value


class EnvConfigError(ValueError):
    """An environment file is invalid (names the file and field)."""


def load_env_config(name_or_path: str) -> EnvConfig:
    """Read and validate an environment file (a catalogue name or a path)."""
    try:
        path = resolve("envs", name_or_path, ".toml")
    except NotInCatalogue as exc:
        raise EnvConfigError(f"{name_or_path}: {exc.reason}") from None
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return EnvConfig.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EnvConfigError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise EnvConfigError("\n".join(lines)) from None


def catalogue_configs() -> list[tuple[str, EnvConfig | EnvConfigError]]:
    """(file stem, config or the error that file gives) of every environment in the
    catalogue, sorted by file name."""
    out: list[tuple[str, EnvConfig | EnvConfigError]] = []
    for path in sorted(catalogue_dir("envs").glob("*.toml")):
        try:
            out.append((path.stem, load_env_config(str(path))))
        except EnvConfigError as exc:
            out.append((path.stem, exc))
    return out

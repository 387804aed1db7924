"""Scenario schema and loading: a TOML file -> a validated, immutable :class:`Scenario`.

A scenario has five sections: ``patient``, ``device``, ``course``, ``controller``, ``run``.
``patient`` may name a preset (``gaitsim.presets``) and override any of its fields.
Every error is a :class:`ScenarioError` naming the file, the field path, the bad value and
what is allowed; nothing is half-loaded.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
)

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WrapSerializer,
    field_validator,
    model_validator,
)

from gaitsim.constants import JOINTS, MUSCLES

Side = Literal["left", "right"]
Muscle = Literal["gmax", "hams", "ilpso", "rf", "vas", "bfsh", "gas", "sol", "ta"]
Joint = Literal["hip", "knee", "ankle"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
StrengthFraction = Annotated[float, Field(ge=0.0, le=1.5)]  # of healthy max isometric force
Stiffness = Annotated[float, Field(ge=0.0, le=500.0)]  # N m/rad
DelayScale = Annotated[float, Field(ge=1.0, le=2.0)]  # x healthy neural delays


class _Frozen(BaseModel):
    # strict: a string is never taken for a number, nor a bool for an int (TOML gives types)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _freeze(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


K = TypeVar("K")
V = TypeVar("V")

#: A read-only mapping type: validated as a dict, stored as a mappingproxy, dumped as a dict.
FrozenMap = Annotated[
    Mapping[K, V],
    AfterValidator(_freeze),
    WrapSerializer(lambda v, serialize: serialize(dict(v))),
]


def _empty() -> Any:
    return Field(default_factory=dict, validate_default=True)


class Spasticity(_Frozen):
    """Velocity-dependent stretch reflex of one muscle, not suppressed in swing (Jansen 2014).

    Used by the neural controller: extra excitation = gain * max(0, v_fibre/lopt - threshold).
    """

    gain: Annotated[float, Field(ge=0.0, le=20.0)] = 0.0
    velocity_threshold_lopt_s: Annotated[float, Field(ge=0.0, le=10.0)] = 0.1


class Contracture(_Frozen):
    """Shortened muscle: optimal fibre and tendon slack length as fractions of healthy."""

    fibre_length_scale: Annotated[float, Field(ge=0.5, le=1.0)] = 1.0
    tendon_slack_scale: Annotated[float, Field(ge=0.8, le=1.0)] = 1.0


class Patient(_Frozen):
    """The person: size, condition and impairment.

    Per-side maps default to healthy: an absent entry is no impairment.
    """

    preset: str | None = None
    height_m: Annotated[float, Field(ge=1.2, le=2.2)] = 1.75
    mass_kg: Annotated[float, Field(ge=25.0, le=200.0)] = 75.0
    condition: Literal["healthy", "hemiparetic", "incomplete-sci"] = "healthy"
    paretic_side: Literal["left", "right", "both", "none"] = "none"
    severity: Fraction = 0.0
    strength: FrozenMap[Side, FrozenMap[Muscle, StrengthFraction]] = _empty()
    spasticity: FrozenMap[Side, FrozenMap[Muscle, Spasticity]] = _empty()
    contracture: FrozenMap[Side, FrozenMap[Muscle, Contracture]] = _empty()
    passive_stiffness_nm_rad: FrozenMap[Side, FrozenMap[Joint, Stiffness]] = _empty()
    descending_drive: FrozenMap[Side, Fraction] = _empty()
    neural_delay_scale: FrozenMap[Side, DelayScale] = _empty()

    def strength_of(self, muscle: str, side: str) -> float:
        """Max isometric force as a fraction of healthy."""
        return self.strength.get(side, {}).get(muscle, 1.0)  # type: ignore[call-overload]

    def contracture_of(self, muscle: str, side: str) -> Contracture:
        return self.contracture.get(side, {}).get(muscle, Contracture())  # type: ignore[call-overload]

    def spasticity_of(self, muscle: str, side: str) -> Spasticity | None:
        return self.spasticity.get(side, {}).get(muscle)  # type: ignore[call-overload]

    def drive_of(self, side: str) -> float:
        """Descending drive of a side (fraction of healthy)."""
        return self.descending_drive.get(side, 1.0)  # type: ignore[call-overload]

    def delay_scale_of(self, side: str) -> float:
        """Neural delays of a side as a multiple of healthy."""
        return self.neural_delay_scale.get(side, 1.0)  # type: ignore[call-overload]

    def extra_stiffness_of(self, joint: str, side: str) -> float:
        return self.passive_stiffness_nm_rad.get(side, {}).get(joint, 0.0)  # type: ignore[call-overload]


class Module(_Frozen):
    """One powered joint of an exoskeleton on one side or both (``gaitsim.model.devices``).

    ``actuator`` names a preset of ``gaitsim.model.devices.ACTUATORS`` ("" = the joint's
    default). The cuff couples the module's link to the limb: rotational stiffness and damping
    about the joint.
    """

    joint: Joint
    side: Literal["left", "right", "both"] = "both"
    actuator: str = ""
    cuff_stiffness_nm_rad: Annotated[float, Field(gt=0.0, le=5000.0)] = 300.0
    cuff_damping_nms_rad: Annotated[float, Field(ge=0.0, le=50.0)] = 1.0

    @field_validator("actuator")
    @classmethod
    def _known_actuator(cls, value: str) -> str:
        from gaitsim.model.devices import ACTUATORS

        if value and value not in ACTUATORS:
            raise ValueError(f"unknown actuator; allowed: {', '.join(sorted(ACTUATORS))}")
        return value


class DeviceSensing(_Frozen):
    """Resolution, noise, rate and latency of a device's sensors (``gaitsim.sim.device``).

    Defaults: 14-bit absolute encoders (e.g. ams AS5047P, common on research exoskeleton
    joints); the other noise levels, the insole rate and the latency are modelling choices
    of the order of research hardware (REFERENCES 4.4), not a particular product. EMG: the
    SENIAM / De Luca 2010 band of 20-450 Hz [memory] and a 6 Hz envelope (3-10 Hz are usual).
    """

    encoder_bits: Annotated[int, Field(ge=8, le=24)] = 14
    torque_noise_nm: Annotated[float, Field(ge=0.0, le=10.0)] = 0.1
    imu_angle_noise_rad: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01
    imu_rate_noise_rad_s: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    insole_noise_n: Annotated[float, Field(ge=0.0, le=200.0)] = 5.0
    insole_rate_hz: Annotated[float, Field(gt=0.0, le=2000.0)] = 100.0
    latency_s: Annotated[float, Field(ge=0.0, le=0.1)] = 0.002
    #: surface EMG envelopes of every muscle (``gaitsim.sim.device``), as fractions of maximum
    emg: bool = False
    emg_band_hz: Annotated[tuple[float, float], Field(strict=False)] = (20.0, 450.0)
    emg_envelope_hz: Annotated[float, Field(gt=0.0, le=50.0)] = 6.0
    emg_noise: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01


class Device(_Frozen):
    """The rehabilitation robot and its controller.

    ``exoskeleton``: the ``modules`` on the body. ``gait-trainer`` (Lokomat-like, on a
    treadmill course): a body-weight-support harness (``body_weight_support`` of the body
    weight, a constant force or a spring of ``support_stiffness_n_m`` about standing height),
    the pelvis held in place by a spring-damper and the trunk steadied by the harness
    (``pelvis_*``, ``trunk_support_nm_rad``), and driven hip and knee orthoses (its
    ``modules``; by default hip and knee on both sides with the ``lokomat-drive`` actuator).
    ``controller`` names a device-controller configuration in controllers/ (or a path), with
    ``controller_settings`` replacing its fields; it runs at ``rate_hz`` on the device's
    sensors.
    """

    kind: Literal["none", "exoskeleton", "gait-trainer"] = "none"
    modules: Annotated[tuple[Module, ...], Field(strict=False)] = ()
    controller: str = "transparent"
    #: fields of the controller's configuration replaced for this scenario (e.g. guidance,
    #: stride_time_s); checked against the configuration's family when the run starts
    controller_settings: FrozenMap[str, float | int | bool | str] = _empty()
    # research exoskeletons run their high-level loop at 100-500 Hz (REFERENCES 4.4); 200 Hz
    # keeps device and patient ticks together
    rate_hz: Annotated[float, Field(gt=0.0, le=2000.0)] = 200.0
    sensing: DeviceSensing = Field(default_factory=DeviceSensing)
    body_weight_support: Annotated[float, Field(ge=0.0, le=0.6)] = 0.3
    support_mode: Literal["constant", "spring"] = "constant"
    support_stiffness_n_m: Annotated[float, Field(ge=0.0, le=20_000.0)] = 1000.0
    pelvis_stiffness_n_m: Annotated[float, Field(ge=0.0, le=100_000.0)] = 5000.0
    pelvis_damping_ns_m: Annotated[float, Field(ge=0.0, le=10_000.0)] = 500.0
    trunk_support_nm_rad: Annotated[float, Field(ge=0.0, le=5000.0)] = 1000.0

    @field_validator("controller")
    @classmethod
    def _configuration_exists(cls, value: str) -> str:
        from gaitsim.catalogue import NotInCatalogue, resolve

        try:
            resolve("controllers", value, ".toml")
        except NotInCatalogue as exc:
            raise ValueError(exc.reason) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _trainer_orthoses(cls, data: Any) -> Any:
        trainer = isinstance(data, Mapping) and data.get("kind") == "gait-trainer"
        if trainer and not data.get("modules"):
            # the orthosis is strapped firmly to thigh and shank: stiff cuffs
            data = {
                **data,
                "modules": [
                    {"joint": j, "actuator": "lokomat-drive", "cuff_stiffness_nm_rad": 2000.0}
                    for j in ("hip", "knee")
                ],
            }
        return data

    @model_validator(mode="after")
    def _modules_fit_the_kind(self) -> Device:
        if self.kind == "none" and self.modules:
            raise ValueError("modules given but kind = 'none'; set kind = 'exoskeleton'")
        if self.kind == "exoskeleton" and not self.modules:
            raise ValueError("an exoskeleton needs at least one module")
        seen: set[tuple[str, str]] = set()
        for m in self.modules:
            for side in ("left", "right") if m.side == "both" else (m.side,):
                if (side, m.joint) in seen:
                    raise ValueError(f"two modules on the {side} {m.joint}")
                seen.add((side, m.joint))
        return self


Distance = Annotated[float, Field(ge=0.0, le=10_000.0)]  # m along the walk
Time = Annotated[float, Field(ge=0.0, le=3600.0)]  # s from the start of the run


class _Element(_Frozen):
    """A course element. Positions ``at_m`` are distances along the walk from the pelvis's
    start (on a treadmill: along the belt, so projected elements come towards the patient
    with it); times ``at_s`` are from the start of the run."""

    #: physical elements collide (built into the model, overground only); virtual ones are
    #: projected and scored from the feet's geometry (DESIGN: as a force plate or camera would)
    physical: ClassVar[bool] = False


class Curb(_Element):
    """A step in the ground at ``at_m``: up by ``height_m`` (> 0) or down (< 0)."""

    kind: Literal["curb"]
    at_m: Distance
    height_m: Annotated[float, Field(ge=-0.3, le=0.3)]
    physical: ClassVar[bool] = True


class Box(_Element):
    """A box to step over: ``length_m`` along the walk, ``height_m`` high, from ``at_m``."""

    kind: Literal["box"]
    at_m: Distance
    length_m: Annotated[float, Field(gt=0.0, le=2.0)]
    height_m: Annotated[float, Field(gt=0.0, le=0.4)]
    physical: ClassVar[bool] = True


class Slope(_Element):
    """A ramp from ``at_m`` over ``length_m`` at ``grade`` (rise over run; < 0 downhill); the
    ground stays at the height it reached. ADA ramps are at most 1:12 (0.083)."""

    kind: Literal["slope"]
    at_m: Distance
    length_m: Annotated[float, Field(gt=0.0, le=100.0)]
    grade: Annotated[float, Field(ge=-0.3, le=0.3)]
    physical: ClassVar[bool] = True


class Stairs(_Element):
    """``steps`` steps from ``at_m``, each ``rise_m`` (< 0: down) and ``tread_m`` deep."""

    kind: Literal["stairs"]
    at_m: Distance
    steps: Annotated[int, Field(ge=1, le=30)]
    rise_m: Annotated[float, Field(ge=-0.25, le=0.25)]
    tread_m: Annotated[float, Field(ge=0.2, le=1.0)]
    physical: ClassVar[bool] = True


class Uneven(_Element):
    """An uneven patch: tiles of ``tile_m`` from ``at_m`` over ``length_m``, each raised by a
    seeded uniform draw in [0, ``amplitude_m``]."""

    kind: Literal["uneven"]
    at_m: Distance
    length_m: Annotated[float, Field(gt=0.0, le=100.0)]
    amplitude_m: Annotated[float, Field(gt=0.0, le=0.1)]
    tile_m: Annotated[float, Field(ge=0.05, le=1.0)] = 0.2
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    physical: ClassVar[bool] = True


class Obstacle(_Element):
    """A projected obstacle zone from ``at_m`` over ``length_m``: avoided when no foot touches
    the ground inside it. It appears ``response_time_s`` before the leading foot would reach
    it at the walking speed (the available response time, ART; REFERENCES 7: contacts are rare
    above ~450 ms and rise below)."""

    kind: Literal["obstacle"]
    at_m: Distance
    length_m: Annotated[float, Field(gt=0.0, le=2.0)]
    response_time_s: Annotated[float, Field(gt=0.0, le=30.0)] = 3.0


class Target(_Element):
    """A projected stepping target from ``at_m`` over ``length_m``: hit when the foot of a
    step lands inside it (its centre of pressure at mid-stance, REFERENCES 7), by the foot of
    ``side`` when given, else by whichever foot lands nearest it. Appears like an obstacle."""

    kind: Literal["target"]
    at_m: Distance
    length_m: Annotated[float, Field(gt=0.0, le=1.0)]
    side: Side | None = None
    response_time_s: Annotated[float, Field(gt=0.0, le=30.0)] = 3.0


class Pedestrian(_Element):
    """A virtual pedestrian crossing the path at ``at_m``: on the path (a zone ``width_m``
    along it) for ``crossing_s`` centred on ``at_s``; hit when the patient's pelvis or a
    foot's ground contact is inside its zone meanwhile."""

    kind: Literal["pedestrian"]
    at_m: Distance
    at_s: Time
    width_m: Annotated[float, Field(gt=0.0, le=3.0)] = 0.6
    crossing_s: Annotated[float, Field(gt=0.0, le=30.0)] = 1.5


class WalkingArea(_Element):
    """A projected walking area ``length_m`` long, centred on the pelvis at ``at_s``, that
    then moves for ``duration_s`` at ``speed_m_s`` relative to the ground (on a treadmill: to
    the treadmill's frame, so the patient walks faster or slower than the belt to stay in it,
    as in the C-Mill's speed-adaptation task; Timmermans 2016). Scored as the fraction of the
    time the pelvis stays inside."""

    kind: Literal["walking_area"]
    at_s: Time
    duration_s: Annotated[float, Field(gt=0.0, le=600.0)]
    length_m: Annotated[float, Field(gt=0.0, le=5.0)] = 1.0
    speed_m_s: Annotated[float, Field(ge=-1.0, le=3.0)] = 0.0


class BeltSpeed(_Element):
    """A perturbation of a treadmill: from ``at_s`` the belt speed ramps to ``speed_m_s``
    over ``ramp_s``."""

    kind: Literal["belt_speed"]
    at_s: Time
    speed_m_s: Annotated[float, Field(ge=0.0, le=3.0)]
    ramp_s: Annotated[float, Field(ge=0.0, le=10.0)] = 0.5


class Push(_Element):
    """A push on the pelvis at ``at_s``: ``force_n`` forward (< 0 backward) for
    ``duration_s``."""

    kind: Literal["push"]
    at_s: Time
    force_n: Annotated[float, Field(ge=-500.0, le=500.0)]
    duration_s: Annotated[float, Field(gt=0.0, le=2.0)] = 0.1


CourseElement = Annotated[
    Curb
    | Box
    | Slope
    | Stairs
    | Uneven
    | Obstacle
    | Target
    | Pedestrian
    | WalkingArea
    | BeltSpeed
    | Push,
    Field(discriminator="kind"),
]


def _elements(items: Any) -> Any:
    """Course elements validated (a saved scenario's and a generator's compare equal)."""
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(tuple[CourseElement, ...]).validate_python(list(items), strict=False)
    except ValidationError:
        return None  # reported with its path by the course's own validation


class CourseGenerator(_Frozen):
    """A random course (``gaitsim.courses``): ``count`` elements of ``kind`` at
    ``difficulty`` from ``start_m``, drawn from ``seed``; sized to the patient's leg."""

    kind: Literal["obstacles", "targets", "terrain"]
    difficulty: Fraction = 0.5
    count: Annotated[int, Field(ge=1, le=500)] = 30
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    start_m: Distance = 3.0
    #: replace what the difficulty sets
    response_time_s: Annotated[float, Field(gt=0.0, le=30.0)] | None = None
    obstacle_length_leg: Annotated[float, Field(gt=0.0, le=2.0)] | None = None


#: Leg length (hip height) as a fraction of body height (Winter 2009), for course sizes.
LEG_PER_HEIGHT = 0.530


class Course(_Frozen):
    """Where the patient walks: flat ground, or a treadmill whose belt runs backwards at
    ``belt_speed_m_s`` (the patient walks in place; gait metrics are taken on the belt), with
    ``elements`` along the way (``course.elements``, an array of tables with a ``kind``).

    Physical elements (curb, box, slope, stairs, uneven) are built into the model and need
    an overground course (a treadmill's belt runs under its frame); they may not overlap and
    never take the ground below its start level."""

    kind: Literal["overground", "treadmill"] = "overground"
    friction: Annotated[float, Field(gt=0.0, le=2.0)] = 0.9  # stiction mu, Geyer & Herr 2010
    belt_speed_m_s: Annotated[float, Field(ge=0.0, le=3.0)] = 0.5
    elements: Annotated[tuple[CourseElement, ...], Field(strict=False)] = ()
    #: a generated course: expanded into ``elements`` when the scenario loads
    generate: CourseGenerator | None = None

    @model_validator(mode="after")
    def _elements_fit(self) -> Course:
        from gaitsim.model.terrain import ground_profile

        physical = [e for e in self.elements if e.physical]
        if physical and self.kind != "overground":
            raise ValueError(
                f"a {physical[0].kind} is physical and needs kind = 'overground' (a treadmill's "
                "belt runs under its frame; project an obstacle instead)"
            )
        if self.kind == "overground":
            for e in self.elements:
                if isinstance(e, BeltSpeed):
                    raise ValueError("a belt_speed perturbation needs kind = 'treadmill'")
        ground_profile(self.elements)  # overlaps and a ground below the start raise
        return self


class CoursePlanner(_Frozen):
    """The patient's supraspinal course planner (``gaitsim.neural.supraspinal``): gains and
    limits of its step-length and swing-height adjustments; ``enabled = false`` walks the
    course blind (the reflexes alone)."""

    enabled: bool = True
    # the forward model's prior gain: L sin(c0) / step_gain metres of step per radian of
    # offset, until the patient's own steps have been fitted
    step_gain: Annotated[float, Field(ge=0.0, le=3.0)] = 0.8
    lift_rad_per_m: Annotated[float, Field(ge=0.0, le=20.0)] = 7.0
    margin_m: Annotated[float, Field(ge=0.0, le=0.3)] = 0.05
    max_offset_rad: Annotated[float, Field(ge=0.0, le=0.5)] = 0.26  # lengthening
    max_shorten_rad: Annotated[float, Field(ge=0.0, le=0.5)] = 0.17
    max_lift_rad: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    replan_s: Annotated[float, Field(ge=0.0, le=0.5)] = 0.15


class Controller(_Frozen):
    """The patient's neural controller and its sensing.

    ``reflex``: the reflex controller (``gaitsim.neural.reflex``) with the gains and initial
    state of ``parameters`` (a file in controllers/ or a path). ``passive``: minimum
    excitation, the body falls. ``constant``: every muscle at ``excitation``, from standing.
    """

    kind: Literal["passive", "constant", "reflex"] = "constant"
    parameters: str = "nominal.json"
    #: exchange left and right of the parameter file (a right-paretic patient from the
    #: parameters tuned for the left-paretic one)
    mirror: bool = False
    excitation: Annotated[float, Field(ge=0.01, le=1.0)] = 0.05
    # 200 Hz: SCONE's control step (5 ms; Geijtenbeek 2019), which holds the Geyer & Herr 2010
    # delays of 5/10/20 ms exactly as 1/2/4 ticks
    rate_hz: Annotated[float, Field(gt=0.0, le=10_000.0)] = 200.0
    sensor_delay_s: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    sensor_noise_std: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    planner: CoursePlanner = Field(default_factory=CoursePlanner)

    @field_validator("parameters")
    @classmethod
    def _parameter_file_exists(cls, value: str) -> str:
        from gaitsim.catalogue import NotInCatalogue, resolve

        try:
            resolve("controllers", value, ".json")
        except NotInCatalogue as exc:
            raise ValueError(exc.reason) from None
        return value


#: What ``gaitsim run --out DIR`` writes: trace.npz, summary.json, report.md, video.mp4.
Output = Literal["trace", "summary", "report", "video"]


class Run(_Frozen):
    """How long and how finely to simulate, with which seed, and what to write."""

    duration_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 5.0
    physics_step_s: Annotated[float, Field(gt=0.0, le=0.1)] = 0.0005
    record_rate_hz: Annotated[float, Field(gt=0.0, le=10_000.0)] = 200.0
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    outputs: Annotated[tuple[Output, ...], Field(strict=False)] = (
        "trace",
        "summary",
        "report",
    )
    #: seeded perturbation of the initial state (std of trunk/joint angles, rad; of speed, m/s)
    initial_angle_noise_rad: Annotated[float, Field(ge=0.0, le=0.2)] = 0.0
    initial_speed_noise_m_s: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    fall_pelvis_height_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.6
    fall_trunk_pitch_rad: Annotated[float, Field(gt=0.0, le=math.pi)] = 1.0


class Scenario(_Frozen):
    """A validated, immutable scenario."""

    name: str = "unnamed"
    description: str = ""
    patient: Patient = Field(default_factory=Patient)
    device: Device = Field(default_factory=Device)
    course: Course = Field(default_factory=Course)
    controller: Controller = Field(default_factory=Controller)
    run: Run = Field(default_factory=Run)

    @model_validator(mode="before")
    @classmethod
    def _generated_course(cls, data: Any) -> Any:
        """Expand ``course.generate`` into the course's elements, sized to the patient (a
        saved scenario carries both; they must agree)."""
        if not isinstance(data, Mapping):
            return data
        course = data.get("course")
        if not isinstance(course, Mapping) or not isinstance(course.get("generate"), Mapping):
            return data
        from gaitsim.courses import generate

        try:
            gen = CourseGenerator.model_validate(course["generate"])
        except ValidationError:
            return data  # reported with its path by the course's own validation
        patient = data.get("patient", {})
        height = patient.get("height_m", 1.75) if isinstance(patient, Mapping) else 1.75
        if not isinstance(height, int | float):
            return data  # the patient's own check reports it
        elements = generate(
            gen.kind,
            gen.difficulty,
            gen.count,
            gen.seed,
            LEG_PER_HEIGHT * height,
            gen.start_m,
            gen.response_time_s,
            gen.obstacle_length_leg,
        )
        given = course.get("elements")
        if given and _elements(given) != _elements(elements):
            raise ValueError(
                "course: give elements or generate, not both (a saved scenario's elements "
                "must be those its generator makes)"
            )
        return {**data, "course": {**course, "elements": elements}}

    @model_validator(mode="after")
    def _trainer_on_a_treadmill(self) -> Scenario:
        if self.device.kind == "gait-trainer" and self.course.kind != "treadmill":
            raise ValueError(
                "device.kind = 'gait-trainer' needs course.kind = 'treadmill' (the trainer "
                "holds the pelvis in place over a belt)"
            )
        return self


class ScenarioError(ValueError):
    """A scenario is invalid: names the file, the field path, the bad value and what is allowed."""


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` layers, collecting their constraint metadata (ge, le, ...)."""
    meta: list[Any] = []
    while get_origin(tp) is Annotated:
        tp, *extra = get_args(tp)
        meta += [m for e in extra for m in getattr(e, "metadata", [e])]
    return tp, meta


def _field_at(loc: tuple[Any, ...]) -> tuple[Any, list[Any]]:
    """The declared type and constraints at an error location, walking models and maps."""
    tp: Any = Scenario
    meta: list[Any] = []
    for part in loc:
        members = _tagged_members(tp)
        if members:  # a union tagged by "kind": the part is the tag
            tp = next(
                (m for m in members if get_args(m.model_fields["kind"].annotation) == (part,)), None
            )
            meta = []
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return None, []
            field = tp.model_fields[part]
            tp, inner = _unwrap(field.annotation)
            meta = list(field.metadata) + inner
        else:  # Mapping[K, V] / tuple[V, ...]: descend into V
            args = [a for a in get_args(tp) if a is not Ellipsis]
            tp, meta = _unwrap(args[-1]) if args else (None, [])
    return tp, meta


def _allowed_keys(loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed where an unknown key was found."""
    tp, _ = _field_at(loc[:-1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return sorted(tp.model_fields)
    return None


def _bounds(loc: tuple[Any, ...]) -> str | None:
    """The numeric range of the field at an error location, e.g. ``1.2 <= value <= 2.2``."""
    _, meta = _field_at(loc)
    fmt = {"ge": "{} <= ", "gt": "{} < ", "le": " <= {}", "lt": " < {}"}
    parts = {k: fmt[k].format(getattr(m, k)) for m in meta for k in fmt if hasattr(m, k)}
    lo = parts.get("ge", parts.get("gt", ""))
    hi = parts.get("le", parts.get("lt", ""))
    return f"{lo}value{hi}" if lo or hi else None


def _path(loc: tuple[Any, ...]) -> str:
    """``course.elements[0].height_m`` for a location (array items as [i], the tag of a
    tagged union left out: the item's ``kind`` names it)."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(loc[i - 1], int) and _is_tag(loc[: i + 1]):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _tagged_members(tp: Any) -> list[type[BaseModel]]:
    """The models of a union tagged by ``kind`` (course elements), else []."""
    if get_origin(tp) not in (Union, UnionType):
        return []
    return [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]


def _is_tag(loc: tuple[Any, ...]) -> bool:
    tp, _ = _field_at(loc[:-1])
    return bool(_tagged_members(tp))


def _describe(err: Mapping[str, Any], source: str) -> str:
    loc = tuple(err["loc"])
    is_key = loc[-1:] == ("[key]",)  # a bad key of a dict (side, muscle, joint)
    loc = loc[:-1] if is_key else loc
    path = _path(loc)
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc)
        where = "" if allowed is None else f"; allowed keys: {', '.join(allowed)}"
        return f"{source}: {path}: unknown key{where}"
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx", {})
        tp, _ = _field_at(loc)
        kinds = [get_args(m.model_fields["kind"].annotation)[0] for m in _tagged_members(tp)]
        expected = ", ".join(repr(k) for k in kinds) or ctx.get("expected_tags", "")
        tag = ctx.get("tag")
        got = f" = {tag!r}" if tag is not None else ": missing"
        return f"{source}: {path}.kind{got}; allowed: {expected}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "literal_error":
        msg = f"{'unknown key' if is_key else 'not allowed'}; allowed: {err['ctx']['expected']}"
    bounds = None if is_key else _bounds(loc)
    if bounds:
        out_of_range = err["type"].startswith(("greater_than", "less_than"))
        msg = f"{'out of range' if out_of_range else msg}; allowed: {bounds}"
    if isinstance(value, Mapping):  # a whole section broke a rule across its fields
        return f"{source}: {path}: {msg}"
    return f"{source}: {path} = {value!r}: {msg}"


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: an override replaces single values and merges into maps, so
    ``strength = { left = { sol = 0.5 } }`` changes one muscle of a preset and keeps the rest."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def from_dict(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a (TOML-shaped) mapping, resolving the patient preset."""
    from gaitsim.presets import PRESETS, preset_dict

    data = dict(data)
    patient = data.get("patient", {})
    if isinstance(patient, Mapping) and patient.get("preset") is not None:
        name = patient["preset"]
        if not isinstance(name, str) or name not in PRESETS:
            raise ScenarioError(
                f"{source}: patient.preset = {name!r}: unknown preset; "
                f"allowed: {', '.join(sorted(PRESETS))}"
            )
        data["patient"] = _merge(preset_dict(name), patient)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e, source) for e in exc.errors()]
        raise ScenarioError("\n".join(lines)) from None


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file. Raises ScenarioError (never half a scenario)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{source}: cannot read scenario file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    return from_dict(data, source)


def to_dict(scenario: Scenario) -> dict[str, Any]:
    """JSON-ready dict of a scenario (stored in a Trace's metadata)."""
    return scenario.model_dump(mode="json")


__all__ = [
    "JOINTS",
    "MUSCLES",
    "Contracture",
    "Controller",
    "Course",
    "CourseGenerator",
    "CoursePlanner",
    "Device",
    "DeviceSensing",
    "Module",
    "Patient",
    "Run",
    "Scenario",
    "ScenarioError",
    "Spasticity",
    "from_dict",
    "load",
    "to_dict",
]

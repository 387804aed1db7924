"""Scenario -> MjModel: body scaled to the patient, impairment applied, course built.

The muscle tendon lengths need the body's geometry, so assembly compiles twice: once to
measure musculotendon lengths at each muscle's reference posture, once with the muscles set.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.model import muscles as M
from gaitsim.model.body import body_spec
from gaitsim.model.devices import DEVICE_PREFIX, BuiltDevice, add_modules, built_device
from gaitsim.model.impairment import muscle_settings
from gaitsim.model.terrain import add_terrain, ground_profile
from gaitsim.spec import Course, Device, Patient, Scenario


@dataclass(frozen=True)
class BuiltModel:
    """A compiled model with what later stages need to know about it."""

    model: mujoco.MjModel
    xml: str
    height_m: float
    mass_kg: float  # the person's, without the device
    leg_length_m: float
    muscle_names: tuple[str, ...]  # the first actuators, in this order
    stand_qpos: np.ndarray
    device: BuiltDevice | None = None


#: Treadmill belt: its half length (m: the longest run, an hour, at the top belt speed, 3 m/s,
#: with margin, so the feet never reach its end), its mass (kg) and the gain of its speed
#: servo (N per m/s): a 1000 kg belt held at speed with a 10 ms time constant barely notices
#: the feet (modelling choice; a real belt's motor and flywheel do the same).
BELT_HALF_LENGTH_M = 3600.0 * 3.0 + 10.0
BELT_MASS_KG = 1000.0
BELT_SPEED_GAIN = 1.0e5
BELT_JOINT = "treadmill_belt"
BELT_DRIVE = "treadmill_drive"
TERRAIN_RGBA = [0.72, 0.66, 0.55, 1]  # curbs, ramps, stairs: a stone colour


def add_course(spec: mujoco.MjSpec, course: Course) -> None:
    """The ground the feet touch, with the course's friction: a plane with the course's
    physical elements on it (``gaitsim.model.terrain``), or a treadmill belt (a heavy slab on
    a slide joint, driven backwards at the belt speed). The ground's geoms belong to the body
    the feet's contact sensors name (:func:`ground_body`)."""
    ground = {
        "contype": 1,
        "conaffinity": 2,
        "condim": 3,
        "friction": [course.friction, 0.005, 0.0001],
        "rgba": [0.8, 0.8, 0.8, 1],
    }
    if course.kind == "overground":
        spec.worldbody.add_geom(
            name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.5], **ground
        )
        add_terrain(spec, ground_profile(course.elements), {**ground, "rgba": TERRAIN_RGBA})
    else:
        spec.worldbody.add_geom(  # the room around the treadmill: seen, never touched
            name="ground",
            type=mujoco.mjtGeom.mjGEOM_PLANE,
            size=[0, 0, 0.5],
            pos=[0, 0, -0.002],
            contype=0,
            conaffinity=0,
            rgba=[0.6, 0.6, 0.6, 1],
        )
        # the viewer's scale (and its clipping planes) from the body, not the long belt
        spec.stat.extent = 2.0
        spec.stat.center = [0.0, 0.0, 0.9]
        belt = spec.worldbody.add_body(name=BELT_JOINT)
        belt.add_joint(name=BELT_JOINT, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[1, 0, 0])
        belt.add_geom(
            name="floor",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[BELT_HALF_LENGTH_M, 0.4, 0.02],
            pos=[0, 0, -0.02],
            mass=BELT_MASS_KG,
            **{**ground, "rgba": [0.25, 0.25, 0.28, 1]},
        )
        # force = -gain (velocity + belt speed): the belt runs backwards at its speed
        speed = course.belt_speed_m_s
        add_force_element(
            spec, BELT_DRIVE, BELT_JOINT, (-BELT_SPEED_GAIN * speed, 0.0, -BELT_SPEED_GAIN)
        )
    spec.worldbody.add_light(pos=[0, 0, 4], dir=[0, 0, -1], castshadow=False)


def ground_body(course: Course) -> str:
    """The body whose geoms are the ground: the world (plane and terrain) or the belt."""
    return "world" if course.kind == "overground" else BELT_JOINT


def belt_speed_m_s(model: mujoco.MjModel) -> float | None:
    """The treadmill's belt speed (m/s, the belt runs backwards), None without a treadmill."""
    try:
        prm = model.actuator(BELT_DRIVE).biasprm
    except KeyError:
        return None
    return float(prm[0] / prm[2])


def add_trainer(spec: mujoco.MjSpec, device: Device, mass_kg: float) -> None:
    """A gait trainer's passive parts as force elements on the pelvis joints (modelling
    choices after the Lokomat: Riener et al. 2010): body-weight support upward on the pelvis
    (a constant force, or that force at standing height on a spring), the pelvis held over the
    belt by a horizontal spring-damper, the trunk steadied by the harness (pitch spring)."""
    support = device.body_weight_support * mass_kg * C.G_M_S2
    spring = device.support_stiffness_n_m if device.support_mode == "spring" else 0.0
    for name, joint, bias in (
        ("trainer_support", "pelvis_z", (support, -spring, 0.0)),
        (
            "trainer_pelvis",
            "pelvis_x",
            (0.0, -device.pelvis_stiffness_n_m, -device.pelvis_damping_ns_m),
        ),
        (
            "trainer_trunk",
            "pelvis_pitch",
            (0.0, -device.trunk_support_nm_rad, -0.1 * device.trunk_support_nm_rad),
        ),
    ):
        add_force_element(spec, name, joint, bias)


def add_force_element(
    spec: mujoco.MjSpec, name: str, joint: str, bias: tuple[float, float, float]
) -> None:
    """A passive force on a joint, ``b0 + b1 q + b2 dq`` (an actuator with no gain, so its
    control does nothing): springs, dampers, constant forces, speed servos."""
    spec.add_actuator(
        name=name,
        target=joint,
        trntype=mujoco.mjtTrn.mjTRN_JOINT,
        gaintype=mujoco.mjtGain.mjGAIN_FIXED,
        gainprm=np.zeros(10),
        biastype=mujoco.mjtBias.mjBIAS_AFFINE,
        biasprm=np.r_[bias, np.zeros(7)],
    )


#: Data of a foot's contact sensor: found, net force (3, world frame), centre of pressure (3).
FOOT_SENSOR_DIM = 7
FOOT_FORCE = slice(1, 4)  # offsets within a foot sensor's data
FOOT_VERTICAL_FORCE = 3
FOOT_COP = slice(4, 7)


def add_foot_sensors(spec: mujoco.MjSpec, course: Course) -> None:
    """One MuJoCo contact sensor per foot: net ground force and centre of pressure, world frame.

    What an instrumented treadmill's force plate or an insole measures; read from sensordata
    so no Python loop over contacts runs on the hot path. It sums the foot's contacts with
    every geom of the ground's body (the floor, a curb, a stair).
    """
    for side in C.SIDES:
        spec.add_sensor(
            name=C.model_name("foot_grf", side),
            type=mujoco.mjtSensor.mjSENS_CONTACT,
            objtype=mujoco.mjtObj.mjOBJ_BODY,
            objname=ground_body(course),
            reftype=mujoco.mjtObj.mjOBJ_BODY,
            refname=C.model_name("foot", side),
            intprm=[1 | 2 | 16, 3, 1],  # data = found|force|pos, reduce = netforce, num = 1
        )


def add_patient_sensors(spec: mujoco.MjSpec) -> None:
    """MuJoCo sensors for what the patient's nervous system senses: muscle length, velocity and
    force (spindles, tendon organs), leg joint angles and velocities, trunk pitch and rate, and
    forward speed. Named ``sense/<signal>/<element>``; ``gaitsim.sim.sensing`` gathers them."""
    S = mujoco.mjtSensor
    muscles = [C.muscle_name(m, s) for s in C.SIDES for m in C.MUSCLES]
    joints = [C.joint_name(j, s) for s in C.SIDES for j in C.JOINTS]
    groups = [
        ("length", S.mjSENS_ACTUATORPOS, mujoco.mjtObj.mjOBJ_ACTUATOR, muscles),
        ("velocity", S.mjSENS_ACTUATORVEL, mujoco.mjtObj.mjOBJ_ACTUATOR, muscles),
        ("force", S.mjSENS_ACTUATORFRC, mujoco.mjtObj.mjOBJ_ACTUATOR, muscles),
        ("angle", S.mjSENS_JOINTPOS, mujoco.mjtObj.mjOBJ_JOINT, [*joints, "pelvis_pitch"]),
        (
            "rate",
            S.mjSENS_JOINTVEL,
            mujoco.mjtObj.mjOBJ_JOINT,
            [*joints, "pelvis_pitch", "pelvis_x"],
        ),
    ]
    for signal, kind, objtype, names in groups:
        for name in names:
            spec.add_sensor(name=f"sense/{signal}/{name}", type=kind, objtype=objtype, objname=name)


def set_options(spec: mujoco.MjSpec, physics_step_s: float) -> None:
    """Integrator and step. implicitfast keeps stiff muscle and joint-limit forces stable."""
    spec.option.timestep = physics_step_s
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.compiler.LRopt.mode = mujoco.mjtLRMode.mjLRMODE_NONE


def _joint_qpos_index(model: mujoco.MjModel, joint: str) -> int:
    return int(model.jnt_qposadr[model.joint(joint).id])


def mtu_length_at(model: mujoco.MjModel, posture: dict[str, float], tendon: str) -> float:
    """Musculotendon length (m) of ``tendon`` with the named joints at ``posture`` (rad)."""
    data = mujoco.MjData(model)
    for joint, angle in posture.items():
        data.qpos[_joint_qpos_index(model, joint)] = angle
    mujoco.mj_fwdPosition(model, data)
    return float(data.ten_length[model.tendon(tendon).id])


def set_muscles(spec: mujoco.MjSpec, probe: mujoco.MjModel, patient: Patient) -> None:
    """Write each muscle's force, optimal length, tendon length and velocity into the spec."""
    r0, r1 = M.OPERATING_RANGE
    for side in C.SIDES:
        for muscle in C.MUSCLES:
            name = C.muscle_name(muscle, side)
            params = M.scaled(muscle, patient.height_m, patient.mass_kg)
            posture = {C.joint_name(j, side): a for j, a in M.REFERENCE_POSTURE_RAD[muscle].items()}
            ref_length = mtu_length_at(probe, posture, name)
            s = muscle_settings(patient, muscle, side, params, ref_length)
            act = spec.actuator(name)
            lo, hi = (s.tendon_length_m + r * s.fibre_length_m for r in (r0, r1))
            act.lengthrange = [lo, hi]
            prm = np.asarray(act.gainprm).copy()
            prm[0:2] = M.OPERATING_RANGE
            prm[2] = s.fmax_n
            prm[6] = params.vmax_lopt_s
            prm[8] = M.ECCENTRIC_FORCE_MAX
            act.gainprm = prm
            act.biasprm = prm
            act.dynprm = np.r_[M.TIME_CONSTANTS_S, np.zeros(len(act.dynprm) - 2)]


def set_passive_stiffness(spec: mujoco.MjSpec, patient: Patient) -> None:
    """Extra passive joint stiffness of the patient (N m/rad about the anatomical neutral)."""
    for side in C.SIDES:
        for joint in C.JOINTS:
            k = patient.extra_stiffness_of(joint, side)
            spec.joint(C.joint_name(joint, side)).stiffness = [k, 0.0, 0.0]


def build_model(
    patient: Patient, course: Course, physics_step_s: float, device: Device | None = None
) -> BuiltModel:
    """Assemble and compile the patient's model on the course, wearing ``device`` if given."""
    if device is not None and device.kind == "none":
        device = None
    spec = body_spec(patient.height_m, patient.mass_kg)
    if device is not None:
        add_modules(spec, device, patient.height_m)  # after the muscles: those come first
        if device.kind == "gait-trainer":
            add_trainer(spec, device, patient.mass_kg)
    add_course(spec, course)
    add_foot_sensors(spec, course)  # after the course: a foot's sensor names the ground
    add_patient_sensors(spec)
    set_options(spec, physics_step_s)
    set_passive_stiffness(spec, patient)
    set_muscles(spec, spec.compile(), patient)
    model = spec.compile()
    stand = np.zeros(model.nq)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    hip = data.xpos[model.body(C.model_name("thigh", "left")).id]
    built = None if device is None else built_device(model, device)
    patient_bodies = [
        i
        for i in range(model.nbody)
        if not model.body(i).name.startswith((DEVICE_PREFIX, BELT_JOINT))
    ]
    muscles = np.flatnonzero(model.actuator_dyntype == mujoco.mjtDyn.mjDYN_MUSCLE)
    assert np.array_equal(muscles, np.arange(len(muscles))), "muscles must come first"
    return BuiltModel(
        model=model,
        xml=spec.to_xml(),
        height_m=patient.height_m,
        mass_kg=float(np.sum(model.body_mass[patient_bodies])),
        leg_length_m=float(hip[2]),
        muscle_names=tuple(model.actuator(i).name for i in muscles),
        stand_qpos=stand,
        device=built,
    )


def build_scenario(scenario: Scenario) -> BuiltModel:
    """The model a scenario runs on: its patient on its course, wearing its device."""
    return build_model(
        scenario.patient, scenario.course, scenario.run.physics_step_s, scenario.device
    )


def muscle_parameters(built: BuiltModel) -> dict[str, list]:
    """What the energetics need of each muscle (``meta["muscles"]``): MuJoCo's gain
    parameters and length range, and rho (the fraction of a musculotendon length change the
    fibre takes)."""
    n = len(built.muscle_names)
    model = built.model
    return {
        "gainprm": model.actuator_gainprm[:n, :9].tolist(),
        "lengthrange": model.actuator_lengthrange[:n].tolist(),
        "rho": [M.RHO[name.split("_", 1)[1]] for name in built.muscle_names],
    }

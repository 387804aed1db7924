"""Exoskeleton modules on the body: a motor with its limits, a link, and a compliant cuff.

A module powers one joint (hip, knee or ankle) of one side. In the model it is

- a **housing** rigidly fixed to the proximal segment (pelvis, thigh, shank): the motor and
  its frame, with the actuator's mass;
- a **link** on its own hinge, coaxial with the anatomical joint and with the same sign
  convention, carrying the strut and cuff of the distal segment. The hinge has the motor's
  reflected rotor inertia (``armature`` = gear ratio squared x rotor inertia), its friction
  (``frictionloss``, at the output) and viscous damping, and is driven by a torque motor
  limited to the actuator's peak torque;
- a **cuff** between the link and the limb: a fixed tendon of length ``q_device - q_joint``
  with the cuff's stiffness and damping. The robot acts on the person only through it, so
  the interaction torque ``k (q_device - q_joint) + d (dq_device - dq_joint)`` is a measured
  quantity of the simulation, not the command.

Nothing of a module collides. The speed side of the motor's limits (torque falls with speed
up to the no-load speed) is applied to the command at each device tick (:func:`saturate`);
the torque side is also MuJoCo's actuator force range, so no command exceeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from gaitsim import constants as C

if TYPE_CHECKING:
    from gaitsim.spec import Device

#: Colour of device geoms (the video draws the robot distinctly from the body).
DEVICE_RGBA = (0.15, 0.45, 0.85, 1.0)
#: Geom group of device parts (MuJoCo visual groups; the body is group 1).
DEVICE_GROUP = 1


@dataclass(frozen=True)
class Actuator:
    """A joint actuator as seen at its output (after the gear).

    ``max_speed_rad_s``: no-load output speed at the supply voltage; available motoring
    torque falls linearly from the peak to zero there (DC-motor line, current-limited at the
    peak). ``rotor_inertia_kg_m2`` is on the motor side; the joint sees it times the gear
    ratio squared.
    """

    name: str
    gear_ratio: float
    peak_torque_nm: float
    continuous_torque_nm: float
    max_speed_rad_s: float
    rotor_inertia_kg_m2: float
    friction_nm: float
    damping_nms_rad: float
    mass_kg: float
    source: str

    @property
    def reflected_inertia_kg_m2(self) -> float:
        return self.gear_ratio**2 * self.rotor_inertia_kg_m2


#: Actuator presets. Every number carries its source in ``source``: [read] seen in the cited
#: text, [read-2nd] seen quoted in open code, [memory] unverified, or a modelling choice.
ACTUATORS: dict[str, Actuator] = {
    a.name: a
    for a in (
        Actuator(
            name="ak80-9",
            gear_ratio=9.0,
            peak_torque_nm=18.0,
            continuous_torque_nm=9.0,
            max_speed_rad_s=25.6,
            rotor_inertia_kg_m2=6.07e-5,
            friction_nm=0.27,
            damping_nms_rad=0.02,
            mass_kg=0.485,
            source=(
                "T-Motor/CubeMars AK80-9, 48 V: 9:1 and torque range +-18 N m (CubeMars AK "
                "driver manual V1.0.8, MIT mode table) [read]; rated 9 N m (cubemars.com, as "
                "tabulated in the epicallypowerful package) [read-2nd]; output speed limit "
                "25.64 rad/s 'according to data sheet' (IHMC tMotorCore) [read-2nd]; Coulomb "
                "friction 0.27 N m from the fitted model of neurobionics/TMotorCANControl "
                "mit_can.py [read]; 485 g and rotor inertia 607 g cm^2 [memory]; viscous "
                "damping a modelling choice"
            ),
        ),
        Actuator(
            name="knee-orthosis-7to1",
            gear_ratio=7.0,
            peak_torque_nm=23.9,
            continuous_torque_nm=12.78,
            max_speed_rad_s=12.0,
            rotor_inertia_kg_m2=1.0e-4,
            friction_nm=1.0,
            damping_nms_rad=0.05,
            mass_kg=0.8,
            source=(
                "backdrivable powered knee orthosis of the Gregg lab (Lee et al., PMC8670722): "
                "BLDC with 7:1 planetary gear in the stator, peak >= 23.9 N m, continuous "
                "12.78 N m, backdrive torque < 2.68 N m in walking [read: abstract]; speed, "
                "rotor inertia, friction split and mass a modelling choice"
            ),
        ),
        Actuator(
            name="ankle-emulator",
            gear_ratio=1.0,
            peak_torque_nm=175.0,
            continuous_torque_nm=60.0,
            max_speed_rad_s=22.9,
            rotor_inertia_kg_m2=2.0e-3,
            friction_nm=0.5,
            damping_nms_rad=0.1,
            mass_kg=0.96,
            source=(
                "tethered ankle emulator after Caputo & Collins 2014 (J Mech Des): off-board "
                "motor and Bowden cable, 0.96 kg worn, peak 175 N m, 1.0 kW [read: abstract]; "
                "no-load speed 22.9 rad/s = 4 x 1 kW / 175 N m (linear motor line with its "
                "peak power at half speed); continuous torque, reflected inertia of the "
                "cable drive and friction a modelling choice"
            ),
        ),
        Actuator(
            name="lokomat-drive",
            gear_ratio=1.0,
            peak_torque_nm=150.0,
            continuous_torque_nm=60.0,
            max_speed_rad_s=8.0,
            rotor_inertia_kg_m2=0.03,
            friction_nm=2.0,
            damping_nms_rad=0.5,
            mass_kg=1.0,
            source=(
                "driven gait orthosis of a Lokomat-like trainer: DC motors with ball-screw "
                "linear drives at hip and knee (Riener et al. 2010, J Healthc Eng) [read: "
                "overview]; no published torque, speed, inertia or friction was found: all "
                "numbers a modelling choice of a stiff, non-backdrivable position servo; "
                "mass: the part the patient's segments carry (the frame carries the rest)"
            ),
        ),
    )
}

#: Default actuator per joint when a module names none.
DEFAULT_ACTUATOR = {"hip": "ak80-9", "knee": "knee-orthosis-7to1", "ankle": "ankle-emulator"}


@dataclass(frozen=True)
class ModuleGeometry:
    """Where a module sits, in fractions of the distal segment's length (modelling choice).

    The strut runs from ``strut`` (start, end) along the distal segment, ``lateral`` m to the
    side of the limb (scaled with height); ``link_mass_kg`` is the strut, cuff and bearing.
    The housing sits ``housing_up`` of the way from the joint up the proximal segment: at the
    joint for motors on the joint axis (hip, knee), high on the shank for a cable-driven
    ankle (the motor or the cable's end there, as on tethered ankle emulators and
    shank-mounted ankle exoskeletons).
    """

    proximal: str  # body carrying the housing and the hinge
    distal: str  # segment the cuff holds
    strut: tuple[float, float]
    link_mass_kg: float
    housing_up: float = 0.0


# Proximal bodies: the leg root ("leg", welded to the pelvis at the hip centre), thigh, shank.
GEOMETRY: dict[str, ModuleGeometry] = {
    "hip": ModuleGeometry("leg", "thigh", (0.1, 0.6), 0.6),
    "knee": ModuleGeometry("thigh", "shank", (0.1, 0.6), 0.5),
    "ankle": ModuleGeometry("shank", "foot", (0.0, 0.9), 0.4, housing_up=0.7),
}
LATERAL_M = 0.10  # strut and housing offset from the limb's mid-plane at 1.80 m


#: Every device body, joint, actuator and tendon name starts with this.
DEVICE_PREFIX = "exo_"


def module_name(joint: str, side: str) -> str:
    """Base name of a module's model elements: ``exo_left_knee`` (+ ``_link``, ``_motor``...)."""
    return f"{DEVICE_PREFIX}{side}_{joint}"


@dataclass(frozen=True)
class BuiltDevice:
    """What the simulation needs to know about the device in a compiled model.

    Modules run in canonical order (sides, then joints); every array has one entry per module.
    """

    modules: tuple[tuple[str, str], ...]  # (side, joint)
    actuators: tuple[Actuator, ...]
    motor: np.ndarray  # actuator ids
    device_qpos: np.ndarray
    device_dof: np.ndarray
    joint_qpos: np.ndarray  # the anatomical joints the modules act on
    joint_dof: np.ndarray
    cuff_stiffness_nm_rad: np.ndarray
    cuff_damping_nms_rad: np.ndarray
    peak_torque_nm: np.ndarray
    max_speed_rad_s: np.ndarray
    mass_kg: float

    @property
    def size(self) -> int:
        return len(self.modules)


def module_list(device: Device) -> list[tuple[str, str, Actuator, float, float]]:
    """(side, joint, actuator, cuff stiffness, cuff damping) per powered joint, canonical
    order (sides, then joints)."""
    wanted: dict[tuple[str, str], tuple[Actuator, float, float]] = {}
    for m in device.modules:
        sides = C.SIDES if m.side == "both" else (m.side,)
        for side in sides:
            actuator = ACTUATORS[m.actuator or DEFAULT_ACTUATOR[m.joint]]
            wanted[(side, m.joint)] = (
                actuator,
                m.cuff_stiffness_nm_rad,
                m.cuff_damping_nms_rad,
            )
    return [
        (side, joint, *wanted[(side, joint)])
        for side in C.SIDES
        for joint in C.JOINTS
        if (side, joint) in wanted
    ]


def _cylinder_inertia(mass: float, radius: float, length: float) -> list[float]:
    """Principal inertias of a solid cylinder along z (about its centre)."""
    ixx = mass * (3 * radius**2 + length**2) / 12.0
    return [ixx, ixx, 0.5 * mass * radius**2]


def add_modules(spec: mujoco.MjSpec, device: Device, height_m: float) -> None:
    """Add every module of ``device`` to a body spec (scaled to ``height_m``)."""
    scale = height_m / 1.80
    for side, joint, actuator, stiffness, damping in module_list(device):
        geo = GEOMETRY[joint]
        base = module_name(joint, side)
        anatomical = spec.joint(C.joint_name(joint, side))
        proximal = spec.body(C.model_name(geo.proximal, side))
        distal = spec.body(C.model_name(geo.distal, side))
        lateral = LATERAL_M * scale * (1.0 if side == "left" else -1.0)
        centre = np.asarray(distal.pos, dtype=float)  # the joint centre, proximal frame
        # the distal segment's long axis: from its joint to the next joint (or the toe)
        if geo.distal == "foot":
            tip = np.asarray(spec.geom(C.model_name("ball", side)).pos, dtype=float)
        else:
            child = spec.body(
                C.model_name(C.LEG_SEGMENTS[C.LEG_SEGMENTS.index(geo.distal) + 1], side)
            )
            tip = np.asarray(child.pos, dtype=float)
        a, b = (tip * f for f in geo.strut)

        # up the proximal segment: its frame origin is its own proximal joint, at 0
        up = centre * (1.0 - geo.housing_up)
        housing = proximal.add_body(name=f"{base}_housing", pos=up + [0.0, lateral, 0.0])
        radius = 0.045 * scale
        housing.mass = actuator.mass_kg
        housing.inertia = _cylinder_inertia(actuator.mass_kg, radius, 0.04 * scale)
        housing.explicitinertial = True
        housing.add_geom(
            name=f"{base}_motor",
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[radius, 0.02 * scale, 0],
            quat=[np.sqrt(0.5), np.sqrt(0.5), 0, 0],  # axis along y, the joint's axis
            contype=0,
            conaffinity=0,
            group=DEVICE_GROUP,
            rgba=DEVICE_RGBA,
        )

        link = proximal.add_body(name=f"{base}_link", pos=centre)
        link.add_joint(
            name=base,
            type=mujoco.mjtJoint.mjJNT_HINGE,
            axis=anatomical.axis,
            range=anatomical.range,
            limited=mujoco.mjtLimited.mjLIMITED_TRUE,
            armature=actuator.reflected_inertia_kg_m2,
            frictionloss=actuator.friction_nm,
            damping=actuator.damping_nms_rad,
        )
        strut_from = a + [0.0, lateral, 0.0]
        strut_to = b + [0.0, lateral, 0.0]
        link.mass = geo.link_mass_kg
        link.ipos = 0.5 * (strut_from + strut_to)
        length = float(np.linalg.norm(strut_to - strut_from))
        link.inertia = _cylinder_inertia(geo.link_mass_kg, 0.02 * scale, length)
        if geo.distal == "foot":  # the strut lies along x: inertia about z is the long one
            link.inertia = np.asarray(link.inertia)[[2, 0, 1]]
        link.explicitinertial = True
        link.add_geom(
            name=f"{base}_strut",
            type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            fromto=np.r_[strut_from, strut_to],
            size=[0.015 * scale, 0, 0],
            contype=0,
            conaffinity=0,
            group=DEVICE_GROUP,
            rgba=DEVICE_RGBA,
            density=0.0,
        )

        cuff = spec.add_tendon(
            name=f"{base}_cuff",
            stiffness=[stiffness, 0.0, 0.0],
            damping=[damping, 0.0, 0.0],
            springlength=[0.0, 0.0],
        )
        cuff.wrap_joint(base, 1.0)
        cuff.wrap_joint(C.joint_name(joint, side), -1.0)

        spec.add_actuator(
            name=f"{base}_motor",
            target=base,
            trntype=mujoco.mjtTrn.mjTRN_JOINT,
            ctrlrange=[-actuator.peak_torque_nm, actuator.peak_torque_nm],
            forcerange=[-actuator.peak_torque_nm, actuator.peak_torque_nm],
            ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
            forcelimited=mujoco.mjtLimited.mjLIMITED_TRUE,
        )


def built_device(model: mujoco.MjModel, device: Device) -> BuiltDevice | None:
    """Resolve a compiled model's device elements (None without a device)."""
    modules = module_list(device)
    if not modules:
        return None

    names = [module_name(j, s) for s, j, *_ in modules]
    human = [C.joint_name(j, s) for s, j, *_ in modules]
    device_bodies = [i for i in range(model.nbody) if model.body(i).name.startswith(DEVICE_PREFIX)]
    return BuiltDevice(
        modules=tuple((s, j) for s, j, *_ in modules),
        actuators=tuple(a for _, _, a, _, _ in modules),
        motor=np.array([model.actuator(f"{n}_motor").id for n in names]),
        device_qpos=np.array([model.jnt_qposadr[model.joint(n).id] for n in names]),
        device_dof=np.array([model.jnt_dofadr[model.joint(n).id] for n in names]),
        joint_qpos=np.array([model.jnt_qposadr[model.joint(n).id] for n in human]),
        joint_dof=np.array([model.jnt_dofadr[model.joint(n).id] for n in human]),
        cuff_stiffness_nm_rad=np.array([k for *_, k, _ in modules]),
        cuff_damping_nms_rad=np.array([d for *_, d in modules]),
        peak_torque_nm=np.array([a.peak_torque_nm for _, _, a, _, _ in modules]),
        max_speed_rad_s=np.array([a.max_speed_rad_s for _, _, a, _, _ in modules]),
        mass_kg=float(model.body_mass[device_bodies].sum()),
    )


def saturate(
    command: np.ndarray, speed: np.ndarray, peak: np.ndarray, max_speed: np.ndarray
) -> np.ndarray:
    """A torque command within the motor's envelope at output ``speed`` (rad/s).

    Driving (torque along the motion) is limited to ``peak * (1 - |speed| / max_speed)``,
    none beyond the no-load speed; braking is limited to the peak (current limit).
    """
    driving = command * speed > 0.0
    limit = np.where(driving, peak * np.clip(1.0 - np.abs(speed) / max_speed, 0.0, 1.0), peak)
    return np.clip(command, -limit, limit)


def interaction_torque(data: mujoco.MjData, device: BuiltDevice) -> np.ndarray:
    """Torque the device applies to each anatomical joint through its cuff (N m, + the
    joint's positive direction)."""
    return interaction_torque_of(data.qpos, data.qvel, device)


def interaction_torque_of(
    qpos: np.ndarray,
    qvel: np.ndarray,
    device: BuiltDevice,
    stiffness_nm_rad: np.ndarray | None = None,
    damping_nms_rad: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`interaction_torque` from a state, (nq,)/(nv,) or a batch's (N, nq)/(N, nv);
    a batch whose members' cuffs differ gives their stiffness and damping, (N, modules)."""
    dq = qpos[..., device.device_qpos] - qpos[..., device.joint_qpos]
    dv = qvel[..., device.device_dof] - qvel[..., device.joint_dof]
    k = device.cuff_stiffness_nm_rad if stiffness_nm_rad is None else stiffness_nm_rad
    c = device.cuff_damping_nms_rad if damping_nms_rad is None else damping_nms_rad
    return k * dq + c * dv


def cuff_terms(device: BuiltDevice) -> list[tuple[int, int, int, int, float, float]]:
    """Per module (device qpos, joint qpos, device dof, joint dof, stiffness, damping) as
    Python numbers: what :func:`interaction_sq` reads."""
    return list(
        zip(
            device.device_qpos.tolist(),
            device.joint_qpos.tolist(),
            device.device_dof.tolist(),
            device.joint_dof.tolist(),
            device.cuff_stiffness_nm_rad.tolist(),
            device.cuff_damping_nms_rad.tolist(),
            strict=True,
        )
    )


def interaction_sq(
    qpos: np.ndarray, qvel: np.ndarray, terms: list[tuple[int, int, int, int, float, float]]
) -> float:
    """The sum of squared interaction torques of one state (N^2 m^2): the formula of
    :func:`interaction_torque_of` on Python numbers, a tenth of its cost for the few modules
    of one simulation (a Gymnasium env's reward takes it every step)."""
    total = 0.0
    for dq, jq, dv, jv, k, c in terms:
        torque = k * (qpos[dq] - qpos[jq]) + c * (qvel[dv] - qvel[jv])
        total += torque * torque
    return float(total)

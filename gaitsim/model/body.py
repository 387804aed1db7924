"""The patient's body as an MjSpec: templates attached, scaled to height and mass (Winter 2009).

The sagittal body is ``human_sagittal.xml`` plus ``leg_sagittal.xml`` attached at each hip
frame with prefix ``left_`` / ``right_``. A 3D variant is a different pair of templates (hip
ab/adduction joints, pelvis list, two more muscles per leg) fed through the same functions:
nothing here assumes the joint or muscle count beyond the names in ``gaitsim.constants``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.catalogue import catalogue_dir
from gaitsim.model import anthropometry as A

BODY_TEMPLATE = "human_sagittal.xml"
LEG_TEMPLATE = "leg_sagittal.xml"


def _template(name: str) -> mujoco.MjSpec:
    return mujoco.MjSpec.from_file(str(catalogue_dir("assets/models") / name))


def attach_legs(spec: mujoco.MjSpec) -> None:
    """Attach a copy of the leg template at each hip frame (names get ``left_``/``right_``)."""
    for side in C.SIDES:
        spec.attach(
            _template(LEG_TEMPLATE), frame=spec.frame(f"hip_{side}"), prefix=C.model_name("", side)
        )


def scale_geometry(spec: mujoco.MjSpec, factor: float) -> None:
    """Scale every position and size in the spec by ``factor`` (uniform geometric scaling)."""
    for body in spec.bodies:
        body.pos = np.asarray(body.pos) * factor
        body.ipos = np.asarray(body.ipos) * factor
    for frame in spec.frames:
        frame.pos = np.asarray(frame.pos) * factor
    for site in spec.sites:
        site.pos = np.asarray(site.pos) * factor
    for geom in spec.geoms:
        if geom.type == mujoco.mjtGeom.mjGEOM_PLANE:
            continue
        geom.pos = np.asarray(geom.pos) * factor
        geom.size = np.asarray(geom.size) * factor
        fromto = np.asarray(geom.fromto)
        if np.all(np.isfinite(fromto)):
            geom.fromto = fromto * factor


def set_segment_inertia(spec: mujoco.MjSpec, height_m: float, mass_kg: float) -> None:
    """Masses, COM positions and inertias of all segments from Winter's table."""
    h = height_m
    com = {
        "pelvis": [0.0, 0.0, A.PELVIS_COM_ABOVE_HIP * h],
        "torso": [0.0, 0.0, (A.torso_com_above_hip() - A.LUMBAR_ABOVE_HIP) * h],
    }
    for segment in ("pelvis", "torso"):
        _set_inertial(spec.body(segment), segment, com[segment], h, mass_kg)
    foot = A.SEGMENTS["foot"]
    for side in C.SIDES:
        thigh_com = -A.SEGMENTS["thigh"].com_fraction * A.THIGH_LENGTH * h
        shank_com = -A.SEGMENTS["shank"].com_fraction * A.SHANK_LENGTH * h
        # foot COM halfway from the ankle to the metatarsal heads (ball contact sphere)
        ball = np.asarray(spec.geom(C.model_name("ball", side)).pos)
        foot_com = [foot.com_fraction * ball[0], 0.0, foot.com_fraction * ball[2]]
        _set_inertial(
            spec.body(C.model_name("thigh", side)), "thigh", [0, 0, thigh_com], h, mass_kg
        )
        _set_inertial(
            spec.body(C.model_name("shank", side)), "shank", [0, 0, shank_com], h, mass_kg
        )
        _set_inertial(spec.body(C.model_name("foot", side)), "foot", foot_com, h, mass_kg)


def _set_inertial(body: mujoco.MjsBody, segment: str, com: list[float], h: float, m: float) -> None:
    mass, inertia = A.segment_inertia(segment, h, m)
    body.mass = mass
    body.ipos = np.asarray(com, dtype=float)
    body.inertia = np.asarray(inertia)
    body.explicitinertial = True


def set_joint_positions(spec: mujoco.MjSpec, height_m: float) -> None:
    """Place hip, knee, ankle and torso frames at Winter's heights (exact, not via the template)."""
    h = height_m
    spec.body("pelvis").pos = [0.0, 0.0, A.HIP_HEIGHT * h]
    spec.body("torso").pos = [0.0, 0.0, A.LUMBAR_ABOVE_HIP * h]
    for side in C.SIDES:
        spec.body(C.model_name("shank", side)).pos = [0.0, 0.0, -A.THIGH_LENGTH * h]
        spec.body(C.model_name("foot", side)).pos = [0.0, 0.0, -A.SHANK_LENGTH * h]


def body_spec(height_m: float, mass_kg: float) -> mujoco.MjSpec:
    """The unimpaired body of a person as an MjSpec (muscle parameters not yet set)."""
    spec = _template(BODY_TEMPLATE)
    attach_legs(spec)
    scale_geometry(spec, height_m / A.TEMPLATE_HEIGHT_M)
    set_joint_positions(spec, height_m)
    set_segment_inertia(spec, height_m, mass_kg)
    return spec

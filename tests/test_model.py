"""The patient's body: compiles across sizes, mass and proportions, muscles, impairment."""

from __future__ import annotations

import pytest

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.model import anthropometry as A
from gaitsim.model import build_model
from gaitsim.model.analysis import moment_arms, normalised_fibre_lengths
from gaitsim.model.body import _template


def _build(**patient):
    sc = spec.from_dict({"patient": patient})
    return build_model(sc.patient, sc.course, sc.run.physics_step_s)


@pytest.mark.parametrize("height_m", [1.50, 1.75, 1.95])
@pytest.mark.parametrize("mass_kg", [45.0, 75.0, 110.0])
def test_body_compiles_across_sizes_with_mass_within_1pct_and_proportional_leg(height_m, mass_kg):
    built = _build(height_m=height_m, mass_kg=mass_kg)
    assert abs(built.mass_kg - mass_kg) / mass_kg < 0.01
    # leg length (standing hip-joint height) is Winter's 0.530 of height
    assert built.leg_length_m / height_m == pytest.approx(A.HIP_HEIGHT, rel=1e-6)
    # the standing feet touch the ground: lowest contact point within 5 mm of z = 0
    import mujoco

    data = mujoco.MjData(built.model)
    mujoco.mj_kinematics(built.model, data)
    for side in C.SIDES:
        for part in ("heel", "ball", "toe"):
            g = built.model.geom(C.model_name(part, side)).id
            z = data.geom_xpos[g, 2] - built.model.geom_size[g, 0]
            assert abs(z) < 0.005


def test_model_counts_are_pinned():
    m = _build().model
    assert (m.nq, m.nv, m.nu, m.ntendon, m.nbody) == (9, 9, 18, 18, 11)
    assert {m.actuator(i).name for i in range(m.nu)} == {
        C.muscle_name(mu, s) for mu in C.MUSCLES for s in C.SIDES
    }


def test_template_positions_are_winter_fractions_of_the_template_height():
    leg = _template("leg_sagittal.xml")
    h = A.TEMPLATE_HEIGHT_M
    assert leg.body("shank").pos[2] == pytest.approx(-A.THIGH_LENGTH * h, abs=1e-3)
    assert leg.body("foot").pos[2] == pytest.approx(-A.SHANK_LENGTH * h, abs=1e-3)
    body = _template("human_sagittal.xml")
    assert body.body("pelvis").pos[2] == pytest.approx(A.HIP_HEIGHT * h, abs=1e-3)
    assert A.total_mass_fraction() == pytest.approx(1.0, abs=1e-9)


# Published moment-arm magnitudes at neutral posture (m, adult ~1.8 m). Lower bounds from the
# lower-limb model of Delp et al. 1990 (IEEE TBME 37:757) and in-vivo data summarised there;
# upper bounds from Geyer & Herr 2010's constant/peak moment arms (r0: GLU/HFL 0.10,
# HAM hip 0.08, VAS 0.06, HAM/GAS knee 0.05, SOL/GAS ankle 0.05, TA 0.04) with 20 % margin.
# Sign: + acts in the joint's positive direction (hip flexion, knee flexion, dorsiflexion).
MOMENT_ARMS = {
    ("sol", "ankle"): (-0.06, -0.035),
    ("gas", "ankle"): (-0.06, -0.035),
    ("ta", "ankle"): (0.025, 0.05),
    ("gas", "knee"): (0.01, 0.06),
    ("vas", "knee"): (-0.072, -0.03),
    ("rf", "knee"): (-0.072, -0.03),
    ("hams", "knee"): (0.015, 0.06),
    ("bfsh", "knee"): (0.015, 0.06),
    ("gmax", "hip"): (-0.12, -0.04),
    ("hams", "hip"): (-0.096, -0.04),
    ("ilpso", "hip"): (0.02, 0.12),
    ("rf", "hip"): (0.02, 0.06),
}


@pytest.mark.parametrize("side", C.SIDES)
@pytest.mark.parametrize(("muscle", "joint"), sorted(MOMENT_ARMS))
def test_moment_arm_sign_and_magnitude_at_neutral(side, muscle, joint):
    built = _build(height_m=1.80, mass_kg=75.0)
    arms = moment_arms(built.model, built.stand_qpos, C.joint_name(joint, side))
    lo, hi = MOMENT_ARMS[(muscle, joint)]
    assert lo <= arms[C.muscle_name(muscle, side)] <= hi


def test_muscles_cross_only_their_joints():
    built = _build()
    crossing = {(m, j) for m, j in MOMENT_ARMS}
    for joint in C.JOINTS:
        arms = moment_arms(built.model, built.stand_qpos, C.joint_name(joint, "left"))
        for muscle in C.MUSCLES:
            r = arms[C.muscle_name(muscle, "left")]
            assert (abs(r) > 1e-4) == ((muscle, joint) in crossing), (muscle, joint, r)
            assert arms[C.muscle_name(muscle, "right")] == 0.0  # the other leg is untouched


def test_moment_arms_change_with_posture():
    built = _build()
    q = built.stand_qpos.copy()
    neutral = moment_arms(built.model, q, "left_knee")["left_hams"]
    q[built.model.jnt_qposadr[built.model.joint("left_knee").id]] = 1.0
    flexed = moment_arms(built.model, q, "left_knee")["left_hams"]
    assert flexed > neutral + 0.01  # hamstring moment arm grows with knee flexion (Delp 1990)


def test_fibres_operate_within_the_force_length_range_when_standing():
    built = _build()
    for name, length in normalised_fibre_lengths(built.model, built.stand_qpos).items():
        assert 0.5 <= length <= 1.6, name  # MuJoCo's lmin / lmax


def test_paretic_strength_scales_that_sides_max_isometric_force():
    healthy = _build().model
    weak = _build(strength={"left": {m: 0.4 for m in C.MUSCLES}}).model
    for muscle in C.MUSCLES:
        for side, factor in (("left", 0.4), ("right", 1.0)):
            i = healthy.actuator(C.muscle_name(muscle, side)).id
            assert weak.actuator_gainprm[i, 2] == pytest.approx(
                factor * healthy.actuator_gainprm[i, 2]
            )


def test_severe_hemiparetic_preset_has_04_strength_on_paretic_side():
    sc = spec.from_dict({"patient": {"preset": "hemiparetic-severe-right"}})
    weak = build_model(sc.patient, sc.course, 0.0005).model
    healthy = _build().model
    i = healthy.actuator("right_sol").id
    assert weak.actuator_gainprm[i, 2] == pytest.approx(0.4 * healthy.actuator_gainprm[i, 2])


def test_contracture_stretches_the_muscle_at_the_same_posture():
    healthy = _build()
    short = _build(contracture={"left": {"sol": {"fibre_length_scale": 0.8}}})
    before = normalised_fibre_lengths(healthy.model, healthy.stand_qpos)
    after = normalised_fibre_lengths(short.model, short.stand_qpos)
    assert after["left_sol"] > before["left_sol"] + 0.1
    assert after["right_sol"] == pytest.approx(before["right_sol"])


def test_extra_passive_stiffness_lands_on_the_joint():
    m = _build(passive_stiffness_nm_rad={"right": {"ankle": 12.0}}).model
    assert m.jnt_stiffness[m.joint("right_ankle").id] == pytest.approx(12.0)
    assert m.jnt_stiffness[m.joint("left_ankle").id] == 0.0


def test_muscle_force_scales_with_mass_two_thirds():
    small, big = _build(mass_kg=50.0).model, _build(mass_kg=100.0).model
    i = small.actuator("left_vas").id
    ratio = big.actuator_gainprm[i, 2] / small.actuator_gainprm[i, 2]
    assert ratio == pytest.approx(2 ** (2 / 3))

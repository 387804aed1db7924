"""The reflex controller: interface, vmap, delays, impairment, parameter files, the batch."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.control.loop import compile_for_loop, step_flops
from gaitsim.metrics import summarize
from gaitsim.model import build_model
from gaitsim.neural import controller as rc
from gaitsim.neural import patient_controller, reflex
from gaitsim.neural.parameters import ParameterError, mapping_from_vector
from gaitsim.sim.batch import rollout
from gaitsim.sim.initial import gait_state
from gaitsim.sim.sensing import PATIENT_LAYOUT, body_index
from gaitsim.sim.simulation import simulate

RATE = 1000.0


def _patient(**kw):
    return spec.from_dict({"patient": kw}).patient


def _obs(**override):
    """A standing-like measurement dict: left foot loaded, right foot unloaded."""
    obs = {name: np.zeros(n, np.float32) for name, n in PATIENT_LAYOUT}
    obs["muscle_length_m"][:] = 0.3
    obs["foot_load_n"][:] = [600.0, 0.0]
    obs.update({k: np.asarray(v, np.float32) for k, v in override.items()})
    return obs


def _muscle(name: str, side: str = "left") -> int:
    return C.SIDES.index(side) * len(C.MUSCLES) + C.MUSCLES.index(name)


def test_excitations_are_in_range_and_the_state_keeps_its_shape():
    ctrl = rc.reflex_controller(_patient(), rc.nominal_parameters()[0], RATE)
    state = ctrl.init(ctrl.params, None)
    step = jax.jit(ctrl.step)
    for k in range(50):
        obs = _obs(muscle_force_n=np.full(18, 1000.0 * np.sin(k)))
        new, excitation = step(ctrl.params, state, obs)
        assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(state)
        state = new
        assert excitation.shape == (18,)
        assert float(excitation.min()) >= 0.01 - 1e-6 and float(excitation.max()) <= 1.0


def test_works_unchanged_under_vmap_over_patients():
    patients = [_patient(height_m=h, mass_kg=m) for h, m in ((1.6, 55), (1.75, 75), (1.9, 95))]
    gains, _ = rc.nominal_parameters()
    ctrls = [rc.reflex_controller(p, gains, RATE) for p in patients]
    params = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[c.params for c in ctrls])
    states = jax.tree_util.tree_map(
        lambda *x: jnp.stack(x), *[c.init(c.params, None) for c in ctrls]
    )
    obs = _obs(muscle_force_n=np.full(18, 800.0))
    batched = jax.tree_util.tree_map(lambda x: jnp.stack([x] * 3), obs)
    _, many = jax.jit(jax.vmap(ctrls[0].step))(params, states, batched)
    for i, c in enumerate(ctrls):
        _, one = jax.jit(c.step)(c.params, c.init(c.params, None), obs)
        np.testing.assert_allclose(many[i], one, rtol=1e-6)
    assert not np.allclose(many[0], many[2])  # force feedback is normalised per body size


def test_the_compiled_loop_step_stays_cheap_enough_to_run_on_the_callers_thread():
    """XLA's CPU client hands programs of 1000 flops or more to its thread pool, a hand-off
    that cost more than the whole reflex arithmetic (sim_speed ratio 0.51 -> 0.66)."""
    sc = spec.from_dict({"controller": {"kind": "reflex", "parameters": "healthy.json"}})
    built = build_model(sc.patient, sc.course, sc.run.physics_step_s)
    controller, _ = patient_controller(sc, built.model.nu)
    assert step_flops(compile_for_loop(controller, sc)) < 1000


@pytest.mark.parametrize(("muscle", "delay_ms"), [("sol", 20), ("vas", 10), ("gmax", 5)])
def test_a_reflex_answers_after_its_muscle_groups_neural_delay(muscle, delay_ms):
    """Geyer & Herr 2010 loop delays: ankle 20 ms, knee 10 ms, hip 5 ms."""
    ctrl = rc.reflex_controller(_patient(), rc.nominal_parameters()[0], RATE)
    step = jax.jit(ctrl.step)
    state = ctrl.init(ctrl.params, None)
    quiet = _obs()
    i = _muscle(muscle)
    if muscle == "gmax":  # trunk leaning forward drives the stance hip extensors (M3)
        loud = _obs(trunk_pitch_rad=[0.5])
    else:  # positive force feedback (M1)
        forces = np.zeros(18, np.float32)
        forces[i] = 3000.0
        loud = _obs(muscle_force_n=forces)
    state, before = step(ctrl.params, state, quiet)
    outputs = []
    for _ in range(delay_ms + 3):
        state, e = step(ctrl.params, state, loud)
        outputs.append(float(e[i]))
    assert outputs[delay_ms - 2] == pytest.approx(float(before[i]))
    assert outputs[delay_ms] > float(before[i]) + 0.05


def test_spasticity_adds_a_velocity_dependent_drive_also_in_swing():
    sp = {"gas": {"gain": 2.0, "velocity_threshold_lopt_s": 0.1}}
    gains, _ = rc.nominal_parameters()
    healthy = rc.reflex_controller(_patient(), gains, RATE)
    spastic = rc.reflex_controller(_patient(spasticity={"right": sp}), gains, RATE)
    v = np.zeros(18, np.float32)
    v[_muscle("gas", "right")] = 0.3  # lengthening at ~5 lopt/s; the right leg is in swing
    outs = []
    for c in (healthy, spastic):
        state = c.init(c.params, None)
        for _ in range(25):
            state, e = jax.jit(c.step)(c.params, state, _obs(muscle_velocity_m_s=v))
        outs.append(np.asarray(e))
    i = _muscle("gas", "right")
    assert outs[1][i] > outs[0][i] + 0.5
    np.testing.assert_allclose(np.delete(outs[1], i), np.delete(outs[0], i))


def test_reduced_descending_drive_caps_that_sides_excitation():
    gains, _ = rc.nominal_parameters()
    c = rc.reflex_controller(_patient(descending_drive={"left": 0.3}), gains, RATE)
    state = c.init(c.params, None)
    forces = np.full(18, 5000.0, np.float32)
    for _ in range(25):
        state, e = jax.jit(c.step)(c.params, state, _obs(muscle_force_n=forces))
    assert float(np.max(e[:9])) <= 0.3 + 1e-6
    assert float(np.max(e[9:])) > 0.3


def test_parameter_files_round_trip_and_mirror(tmp_path):
    gains, initial = rc.nominal_parameters()
    gains[0, reflex.P["SOL_1_FG"]] = 2.0
    path = rc.save_parameter_file(tmp_path / "p.json", gains, initial, description="x")
    loaded, init2, doc = rc.load_parameter_file(path)
    np.testing.assert_allclose(loaded, gains)
    np.testing.assert_allclose(init2, initial)
    assert doc["description"] == "x"
    mg, mi = rc.mirror(loaded, init2)
    assert mg[1, reflex.P["SOL_1_FG"]] == 2.0 and mg[0, reflex.P["SOL_1_FG"]] != 2.0
    m = mapping_from_vector(rc.INITIAL_STATE, mi)
    assert m["left_knee_rad"] == pytest.approx(
        mapping_from_vector(rc.INITIAL_STATE, init2)["right_knee_rad"]
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["reflex"]["left"].update(SOL_1_FG=99.0), "SOL_1_FG = 99.0: out of range"),
        (lambda d: d["reflex"]["left"].update(bogus=1.0), "unknown parameter(s) bogus"),
        (lambda d: d["reflex"]["right"].pop("c0"), "missing parameter(s) c0"),
        (
            lambda d: d["initial_state"].update(pelvis_velocity_m_s="fast"),
            "must be a finite number",
        ),
        (lambda d: d.update(format="other/1"), "expected 'gaitsim-reflex/1'"),
    ],
)
def test_bad_parameter_files_name_the_field(tmp_path, edit, message):
    gains, initial = rc.nominal_parameters()
    doc = rc.parameter_document(gains, initial)
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ParameterError, match="bad.json") as err:
        rc.load_parameter_file(path)
    assert message in str(err.value)


def test_nothing_but_muscles_holds_up_or_pushes_the_body():
    """Issue 3: no external force, constraint or actuator on the pelvis or trunk."""
    import mujoco

    m = build_model(_patient(), spec.Course(), 0.0005).model
    assert m.neq == 0 and m.nmocap == 0
    assert all(m.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_TENDON for i in range(m.nu))
    assert all(m.actuator_gaintype[i] == mujoco.mjtGain.mjGAIN_MUSCLE for i in range(m.nu))
    for j in ("pelvis_x", "pelvis_z", "pelvis_pitch"):
        jid = m.joint(j).id
        dof = m.jnt_dofadr[jid]
        assert m.jnt_stiffness[jid] == 0 and m.dof_damping[dof] == 0 and not m.jnt_limited[jid]
    np.testing.assert_allclose(m.opt.gravity, [0, 0, -9.81])
    assert m.opt.wind.tolist() == [0, 0, 0] and m.opt.density == 0


def test_batch_rollout_reproduces_the_single_simulation():
    sc = spec.from_dict(
        {"controller": {"kind": "reflex", "parameters": "nominal.json"}, "run": {"duration_s": 2.0}}
    )
    single = simulate(sc)
    built = build_model(sc.patient, sc.course, sc.run.physics_step_s)
    gains, initial, _ = rc.load_parameter_file(rc.resolve_parameter_file("nominal.json"))
    q, v = gait_state(
        built.model, body_index(built.model), mapping_from_vector(rc.INITIAL_STATE, initial)
    )
    ctrls = [rc.reflex_controller(sc.patient, gains, sc.controller.rate_hz)] * 3
    result = rollout(built, ctrls, np.tile(q, (3, 1)), np.tile(v, (3, 1)), 2.0)
    end = single.meta["termination"]
    assert result.fell.tolist() == [end["reason"] == "fall"] * 3
    assert result.alive_s[0] == pytest.approx(end["time_s"], abs=0.003)
    x = single["pelvis_pos_m"][:, 0]
    assert result.distance_m[0] == pytest.approx(x[-1] - x[0], abs=0.02)


def test_a_member_that_blows_up_ends_and_the_others_walk_on(capfd):
    """MuJoCo resets a blown-up member itself; its warning ends it, as in ``simulate``."""
    sc = spec.from_dict({"controller": {"kind": "reflex", "parameters": "healthy.json"}})
    built = build_model(sc.patient, sc.course, sc.run.physics_step_s)
    gains, initial, _ = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))
    q, v = gait_state(
        built.model, body_index(built.model), mapping_from_vector(rc.INITIAL_STATE, initial)
    )
    qvel = np.tile(v, (2, 1))
    qvel[1, 0] = np.inf
    ctrls = [rc.reflex_controller(sc.patient, gains, sc.controller.rate_hz)] * 2
    result = rollout(built, ctrls, np.tile(q, (2, 1)), qvel, 1.0)
    assert result.fell.tolist() == [False, True]
    assert result.alive_s[1] < 0.01 and result.alive_s[0] == pytest.approx(1.0)
    assert "WARNING" not in capfd.readouterr().out  # kept off stdout (--json stays clean)


def test_a_mirrored_parameter_file_walks_the_mirror_image(tmp_path):
    """Right-sided patients use the left-sided tuning with left and right exchanged."""
    gains, initial = rc.nominal_parameters()
    gains[0, reflex.P["SOL_1_FG"]] = 1.6  # an asymmetric parameter set
    path = rc.save_parameter_file(tmp_path / "left.json", gains, initial)
    run = {"duration_s": 0.8, "record_rate_hz": 100.0}

    def walk(side: str, mirror: bool):
        return simulate(
            spec.from_dict(
                {
                    "patient": {"preset": f"hemiparetic-moderate-{side}"},
                    "controller": {"kind": "reflex", "parameters": str(path), "mirror": mirror},
                    "run": run,
                }
            )
        )

    left, right = walk("left", False), walk("right", True)
    assert left.meta["termination"] == right.meta["termination"]
    for joint in C.JOINTS:
        np.testing.assert_allclose(
            left[C.angle_channel(joint, "left")],
            right[C.angle_channel(joint, "right")],
            atol=1e-4,
        )


def test_batch_step_lengths_match_the_gait_analysis():
    """The tuning cost's per-side step lengths are the ones gaitsim.metrics reports."""
    sc = spec.from_dict(
        {"controller": {"kind": "reflex", "parameters": "healthy.json"}, "run": {"duration_s": 6.0}}
    )
    steps = summarize(simulate(sc)).to_dict()["symmetry"]["step_length_m"]
    built = build_model(sc.patient, sc.course, sc.run.physics_step_s)
    gains, initial, _ = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))
    q, v = gait_state(
        built.model, body_index(built.model), mapping_from_vector(rc.INITIAL_STATE, initial)
    )
    ctrl = rc.reflex_controller(sc.patient, gains, sc.controller.rate_hz)
    result = rollout(built, [ctrl], q[None], v[None], 6.0)
    np.testing.assert_allclose(result.step_length_m[0], [steps["left"], steps["right"]], atol=0.03)

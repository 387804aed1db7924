"""Tuning: the cost ranks walking above everything else; runs checkpoint, log and resume."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

from gaitsim import spec
from gaitsim.catalogue import catalogue_dir
from gaitsim.model.impairment import toward_healthy
from gaitsim.neural import controller as rc
from gaitsim.neural.tune import SURVIVOR_COST_CAP, TuneConfig, cost, tune, tune_curriculum
from gaitsim.sim.batch import RolloutResult


def _result(
    alive,
    fell,
    distance,
    speed,
    effort=1.0,
    limit=0.0,
    spike=0.0,
    swing=0.4,
    steps=(0.6, 0.6),
    heat=0.0,
) -> RolloutResult:
    n = len(alive)

    def arr(v):
        return np.broadcast_to(np.asarray(v, dtype=float), (n,))

    return RolloutResult(
        arr(alive),
        np.array(fell),
        arr(distance),
        arr(speed),
        arr(effort),
        arr(heat),
        arr(limit),
        arr(spike),
        arr(swing),
        np.broadcast_to(np.asarray(steps, dtype=float), (n, 2)),
    )


def test_any_walker_beats_any_non_walker_and_further_is_better():
    r = _result(
        alive=(10, 10, 10, 9.9, 2.0),
        fell=(False, False, False, True, True),
        distance=(12.5, 7.0, 0.2, 12.0, 1.0),
        speed=(1.25, 0.7, 0.02, 1.2, 0.5),
        effort=(2.0, 50.0, 0.5, 2.0, 0.5),
        spike=(0.0, 100.0, 0.0, 0.0, 0.0),
    )
    c = cost(r, duration_s=10.0, target_speed_m_s=1.25)
    walker, slow_but_costly, stander, late_fall, early_fall = c
    assert walker < slow_but_costly < 400 <= late_fall < stander
    assert late_fall < early_fall
    assert stander > 950  # standing still is almost no progress


def test_a_walker_whose_foot_never_leaves_the_ground_pays_for_it():
    base = dict(alive=(10, 10), fell=(False, False), distance=(12, 12), speed=(1.2, 1.2))
    stepping, dragging = cost(_result(**base, swing=(0.4, 0.0)), 10.0, 1.25)
    assert dragging > stepping + 90


def test_a_walker_whose_steps_stray_from_its_offsets_or_ignore_them_pays_for_it():
    base = dict(alive=(10,) * 4, fell=(False,) * 4, distance=(12,) * 4, speed=(1.2,) * 4)
    r = dataclasses.replace(
        _result(**base),
        placement_sd_m=np.array([0.02, 0.05, 0.02, np.nan]),
        placement_gain_m_rad=np.array([-1.1, -1.1, -0.4, np.nan]),
    )
    precise, scattered, deaf, unfitted = cost(r, 10.0, 1.25)
    assert scattered == pytest.approx(precise + 3.0)  # 1 per cm of scatter
    assert deaf == pytest.approx(precise + 5.0)  # half the least gain: half of 10
    assert unfitted > scattered + 10
    # without step adjustments (no placement figures) nothing is added
    assert cost(_result(**base), 10.0, 1.25)[0] == pytest.approx(precise - 2.0)
    assert cost(r, 10.0, 1.25, placement_weight=0.0)[0] == pytest.approx(precise - 2.0)


def test_a_walker_whose_foot_lands_level_with_the_other_pays_for_it():
    """A step-to gait (one foot never passes the other) is not the gait the cost asks for."""
    base = dict(alive=(10,) * 4, fell=(False,) * 4, distance=(12,) * 4, speed=(1.2,) * 4)
    steps = ((0.6, 0.6), (0.45, 0.75), (-0.04, 0.75), (np.nan, 0.7))
    normal, asymmetric, step_to, one_sided = cost(_result(**base, steps=steps), 10.0, 1.25)
    assert asymmetric == pytest.approx(normal)  # a ratio of 1.67 is a patient's, not penalised
    assert step_to > normal + 99 and one_sided > normal + 99
    unchecked = cost(_result(**base, steps=steps), 10.0, 1.25, min_step_ratio=0.0)
    assert np.ptp(unchecked) == pytest.approx(0.0)


def test_a_short_tuning_run_logs_checkpoints_resumes_and_writes_a_loadable_file(tmp_path):
    sc = spec.from_dict({"name": "t", "controller": {"kind": "reflex"}})
    config = TuneConfig(generations=2, population=4, duration_s=0.3, sigma=0.05)
    start = rc.nominal_parameters()
    out, work = tmp_path / "best.json", tmp_path / "work"
    summary = tune(sc, config, start, out, work)
    assert summary["generations"] == 2 and np.isfinite(summary["best_cost"])
    rows = list(csv.DictReader((work / "log.csv").open()))
    assert [int(r["generation"]) for r in rows] == [1, 2]
    gains, initial, doc = rc.load_parameter_file(out)
    assert gains.shape == (2, len(start[0][0])) and doc["tuning"]["population"] == 4
    resumed = tune(
        sc,
        TuneConfig(generations=3, population=4, duration_s=0.3, sigma=0.05),
        start,
        out,
        work,
        resume=True,
    )
    assert resumed["generations"] == 3
    assert [int(r["generation"]) for r in csv.DictReader((work / "log.csv").open())] == [1, 2, 3]
    with pytest.raises(ValueError, match="population=4"):
        tune(
            sc,
            TuneConfig(generations=4, population=6, duration_s=0.3),
            start,
            out,
            work,
            resume=True,
        )


def test_stop_walking_after_ends_a_run_only_once_the_best_walks(tmp_path):
    sc = spec.from_dict({"name": "t", "controller": {"kind": "reflex"}})
    config = TuneConfig(
        generations=4,
        population=4,
        duration_s=0.3,
        sigma=0.05,
        target_speed_m_s=0.2,
        stop_walking_after=1,
    )
    summary = tune(sc, config, rc.nominal_parameters(), tmp_path / "b.json", tmp_path / "w")
    walks = summary["best_cost"] < SURVIVOR_COST_CAP
    assert summary["generations"] == (1 if walks else 4)


def test_a_curriculum_tunes_milder_patients_first_and_resumes_past_finished_stages(tmp_path):
    sc = spec.from_dict(
        {"name": "t", "patient": {"preset": "incomplete-sci"}, "controller": {"kind": "reflex"}}
    )
    config = TuneConfig(generations=2, population=4, duration_s=0.3, sigma=0.05)
    out, work = tmp_path / "best.json", tmp_path / "work"
    summary = tune_curriculum(sc, config, rc.nominal_parameters(), out, work, stages=2)
    assert [s["stage"] for s in summary["stages"]] == [1, 2]
    _, _, first = rc.load_parameter_file(work / "stage-1" / "best.json")
    assert first["tuning"]["scenario"] == "t@1/2"
    _, _, last = rc.load_parameter_file(out)
    assert last["tuning"]["scenario"] == "t"
    stage1_log = (work / "stage-1" / "log.csv").read_text()
    more = dataclasses.replace(config, generations=3)
    resumed = tune_curriculum(sc, more, rc.nominal_parameters(), out, work, 2, resume=True)
    assert (work / "stage-1" / "log.csv").read_text() == stage1_log  # not run again
    assert resumed["stages"][-1]["generations"] == 3


def test_toward_healthy_scales_every_impairment_and_keeps_the_body():
    p = spec.load(catalogue_dir("scenarios") / "hemiparetic-moderate-left.toml").patient
    healthy, half, full = (toward_healthy(p, f) for f in (0.0, 0.5, 1.0))
    assert full == p
    assert healthy.height_m == p.height_m and healthy.condition == p.condition
    s = p.strength_of("sol", "left")
    assert healthy.strength_of("sol", "left") == 1.0
    assert half.strength_of("sol", "left") == pytest.approx(1 - 0.5 * (1 - s))
    assert healthy.spasticity_of("sol", "left").gain == 0.0
    assert half.spasticity_of("sol", "left").gain == pytest.approx(
        0.5 * p.spasticity_of("sol", "left").gain
    )
    assert healthy.contracture_of("sol", "left").fibre_length_scale == 1.0
    assert healthy.extra_stiffness_of("ankle", "left") == 0.0
    assert healthy.drive_of("left") == 1.0
    with pytest.raises(ValueError, match="fraction"):
        toward_healthy(p, 1.5)


def test_the_metabolic_term_prefers_the_cheaper_of_two_equal_walkers():
    r = _result(
        alive=(10, 10), fell=(False, False), distance=(12, 12), speed=(1.2, 1.2), heat=(9000, 3000)
    )
    plain = cost(r, 10.0, 1.25)
    assert plain[0] == pytest.approx(plain[1])
    weighted = cost(r, 10.0, 1.25, metabolic_weight=1.0, mass_kg=75.0)
    assert weighted[1] < weighted[0]
    assert weighted[0] - weighted[1] == pytest.approx(6000 / 75 / 12)


def _healthy_batch(n: int):
    """(built model, n healthy reflex controllers, their initial qpos and qvel (n, ...))."""
    from gaitsim.model import build_scenario
    from gaitsim.neural.parameters import mapping_from_vector
    from gaitsim.sim.initial import gait_state
    from gaitsim.sim.sensing import body_index

    sc = spec.from_dict({"controller": {"kind": "reflex", "parameters": "healthy.json"}})
    built = build_scenario(sc)
    gains, initial, _ = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))
    q, v = gait_state(
        built.model, body_index(built.model), mapping_from_vector(rc.INITIAL_STATE, initial)
    )
    ctrls = [rc.reflex_controller(sc.patient, gains, 200.0)] * n
    return built, ctrls, np.stack([q] * n), np.stack([v] * n)


def test_torque_noise_disturbs_the_batch_reproducibly():
    from gaitsim.sim.batch import TorqueNoise, rollout

    built, ctrls, qs, vs = _healthy_batch(2)
    quiet = rollout(built, ctrls, qs, vs, 1.0)
    noisy = [
        rollout(built, ctrls, qs, vs, 1.0, torque_noise=TorqueNoise(5.0, seed=3)) for _ in range(2)
    ]
    assert quiet.distance_m[0] == quiet.distance_m[1]
    assert noisy[0].distance_m[0] != noisy[0].distance_m[1]  # each member its own noise
    assert np.array_equal(noisy[0].distance_m, noisy[1].distance_m)  # seeded
    assert not np.allclose(noisy[0].distance_m, quiet.distance_m)


def test_step_adjustments_lengthen_steps_by_their_offset_on_common_random_numbers():
    """Random step offsets (as a course planner's) reach the reflex controller through the
    course inputs: negative offsets lengthen the step (a negative fitted gain); members of one
    stream get the same offsets, so identical candidates cost the same."""
    from gaitsim.sim.batch import StepAdjustments, rollout

    built, ctrls, qs, vs = _healthy_batch(4)
    adjusted = rollout(
        built, ctrls, qs, vs, 8.0, step_adjustments=StepAdjustments(0.15, seed=3, streams=2)
    )
    assert not adjusted.fell.any()
    gain, sd = adjusted.placement_gain_m_rad, adjusted.placement_sd_m
    assert gain[0] == gain[2] and gain[1] == gain[3] and gain[0] != gain[1]
    assert np.all(gain < -0.5) and np.all(sd < 0.1)  # ~1 m per rad: the planner's prior
    plain = rollout(built, ctrls[:1], qs[:1], vs[:1], 8.0)
    assert plain.placement_sd_m is None and plain.placement_gain_m_rad is None

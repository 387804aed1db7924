"""Tuning on short course sessions: the planner's gains (gaitsim tune --planner) and the
reflex gains (gaitsim tune --on-course)."""

from pathlib import Path

import numpy as np
import pytest

from gaitsim import spec
from gaitsim.catalogue import resolve_scenario
from gaitsim.neural import controller as rc
from gaitsim.neural.tune_course import (
    LIFT_FIELDS,
    STEP_FIELDS,
    CourseTuneConfig,
    decode,
    encode,
    session,
    tune_planner,
    tune_reflex,
    tuned_fields,
    with_planner,
)
from gaitsim.spec import CoursePlanner


def _short(course: dict, duration_s: float) -> spec.Scenario:
    d = spec.to_dict(spec.load(resolve_scenario("obstacle-avoidance-healthy")))
    d["course"] = course
    d["run"]["duration_s"] = duration_s
    return spec.from_dict(d)


OBSTACLES = {
    "kind": "treadmill",
    "belt_speed_m_s": 1.2,
    "generate": {
        "kind": "obstacles",
        "count": 3,
        "seed": 1,
        "start_m": 3.0,
        "response_time_s": 1.0,
        "obstacle_length_leg": 0.3,
    },
}


def test_gains_round_trip_through_the_unit_cube_within_the_schema_bounds():
    planner = CoursePlanner(step_gain=1.1, margin_m=0.07, replan_s=0.25)
    x = encode(planner, STEP_FIELDS)
    assert np.all((x >= 0) & (x <= 1))
    back = decode(x, STEP_FIELDS, CoursePlanner())
    for f in STEP_FIELDS:
        assert getattr(back, f) == pytest.approx(getattr(planner, f))
    # outside the cube the gains stop at their bounds (the schema's own, so it validates)
    edge = decode(np.full(len(STEP_FIELDS), 2.0), STEP_FIELDS, CoursePlanner())
    assert edge.margin_m == pytest.approx(0.3) and edge.step_gain == pytest.approx(3.0)
    CoursePlanner.model_validate(edge.model_dump())


def test_lift_gains_are_tuned_only_where_the_course_has_an_edge_to_clear():
    assert tuned_fields(_short(OBSTACLES, 1.0)) == STEP_FIELDS
    curb = {"elements": [{"kind": "curb", "at_m": 3.0, "height_m": 0.1}]}
    assert tuned_fields(_short(curb, 1.0)) == STEP_FIELDS + LIFT_FIELDS


def test_a_session_draws_its_course_from_its_seed_and_costs_what_it_scored():
    scenario = _short(OBSTACLES, 8.0)
    a, b = (session(scenario, s) for s in (5, 5))
    assert a == b  # same seed, same session
    assert 0.0 <= a["success"] <= 1.0
    assert a["cost"] == pytest.approx(1.0 - a["success"] + 0.5 * a["fell"])
    blind = session(with_planner(scenario, CoursePlanner(enabled=False)), 5)
    assert blind["success"] <= a["success"]


def test_tuning_writes_a_planner_table_that_loads_and_resumes(tmp_path: Path):
    scenario = _short(OBSTACLES, 6.0)
    config = CourseTuneConfig(generations=1, population=4, seeds=1, workers=2)
    out = tmp_path / "planner.toml"
    result = tune_planner(scenario, config, out, tmp_path)
    assert result["generations"] == 1
    d = spec.to_dict(scenario)
    import tomllib

    d["controller"]["planner"] = tomllib.loads(out.read_text())["controller"]["planner"]
    assert spec.from_dict(d).controller.planner == CoursePlanner(**result["planner"])
    assert out.read_text().startswith("# Tuned by gaitsim tune --planner")
    # resuming with a different sample of sessions is refused, naming what changed
    with pytest.raises(ValueError, match="seeds=1"):
        tune_planner(
            scenario,
            CourseTuneConfig(generations=2, population=4, seeds=2),
            out,
            tmp_path,
            resume=True,
        )
    again = tune_planner(
        scenario,
        CourseTuneConfig(generations=2, population=4, seeds=1),
        out,
        tmp_path,
        resume=True,
    )
    assert again["generations"] == 2
    assert len((tmp_path / "planner-log.csv").read_text().splitlines()) == 3


def test_a_scenario_without_a_course_is_refused():
    plain = spec.load(resolve_scenario("healthy-walk"))
    with pytest.raises(ValueError, match="no course"):
        tune_planner(plain, CourseTuneConfig(generations=1), Path("unused"), Path("unused"))


def test_tuning_the_reflex_gains_on_the_course_writes_a_parameter_file_and_resumes(
    tmp_path: Path,
):
    """--on-course: the gains move, the initial state is the start's, the file loads and
    says how it was made; a resumed run must keep the search space."""
    scenario = _short(OBSTACLES, 6.0)
    start = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))[:2]
    out = tmp_path / "on-course.json"
    config = CourseTuneConfig(generations=1, population=4, seeds=1, sigma=0.01)
    result = tune_reflex(scenario, config, start, out, tmp_path)
    assert result["generations"] == 1 and len(result["sessions"]) == 1
    gains, initial, doc = rc.load_parameter_file(out)
    np.testing.assert_array_equal(initial, start[1])
    np.testing.assert_array_equal(gains[0], gains[1])  # symmetric: one set for both legs
    assert not np.allclose(gains, start[0])  # CMA-ES samples round the start, never on it
    assert np.allclose(gains, start[0], atol=0.2 * np.abs(start[0]).max())
    assert doc["tuning"]["mode"] == "on-course" and doc["tuning"]["generation"] == 1
    assert doc["description"].startswith("Tuned by gaitsim tune --on-course")
    with pytest.raises(ValueError, match="symmetric=True"):
        tune_reflex(
            scenario,
            CourseTuneConfig(generations=2, population=4, seeds=1, symmetric=False),
            start,
            out,
            tmp_path,
            resume=True,
        )
    again = tune_reflex(
        scenario,
        CourseTuneConfig(generations=2, population=4, seeds=1, sigma=0.01),
        start,
        out,
        tmp_path,
        resume=True,
    )
    assert again["generations"] == 2
    assert len((tmp_path / "course-log.csv").read_text().splitlines()) == 3
    # resuming from another start (here: a different initial state) is refused too
    other = (start[0], start[1] + 0.01)
    with pytest.raises(ValueError, match="started from other settings"):
        tune_reflex(scenario, config, other, out, tmp_path, resume=True)


def test_each_candidate_walks_with_its_own_gains_and_an_asymmetric_start_stays_per_leg(
    tmp_path: Path,
):
    from gaitsim.neural.tune_course import _ReflexSpace

    scenario = _short(OBSTACLES, 6.0)
    start = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))[:2]
    space = _ReflexSpace(scenario, start, True, tmp_path / "out.json", tmp_path)
    xs = [space.x0, np.clip(space.x0 + 0.01, 0, 1)]
    files = [space.candidate(x, i).controller.parameters for i, x in enumerate(xs)]
    assert len(set(files)) == 2
    for x, f in zip(xs, files, strict=True):
        gains, initial, _ = rc.load_parameter_file(f)
        np.testing.assert_allclose(gains, space._gains(x))
        np.testing.assert_array_equal(initial, start[1])
    np.testing.assert_allclose(rc.load_parameter_file(files[0])[0], start[0], rtol=1e-12)
    paretic = rc.load_parameter_file(rc.resolve_parameter_file("hemiparetic-moderate-left.json"))
    with pytest.raises(ValueError, match="--asymmetric"):
        _ReflexSpace(scenario, paretic[:2], True, tmp_path / "out.json", tmp_path)
    per_leg = _ReflexSpace(scenario, paretic[:2], False, tmp_path / "out.json", tmp_path)
    np.testing.assert_allclose(per_leg._gains(per_leg.x0), paretic[0], rtol=1e-12)


def test_tuning_on_the_course_needs_the_planner_on():
    scenario = with_planner(_short(OBSTACLES, 6.0), CoursePlanner(enabled=False))
    start = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))[:2]
    with pytest.raises(ValueError, match="planner.enabled = false"):
        tune_reflex(scenario, CourseTuneConfig(generations=1), start, Path("x"), Path("y"))


def test_a_search_over_named_gains_keeps_every_other_gain_and_refuses_unknown_names(
    tmp_path: Path,
):
    """--gains: only the named gains move (on both legs of an asymmetric start too); the
    others and the initial state are the start's; a resumed run must name the same."""
    from gaitsim.neural.reflex import P
    from gaitsim.neural.tune_course import _ReflexSpace

    scenario = _short(OBSTACLES, 6.0)
    start = rc.load_parameter_file(rc.resolve_parameter_file("healthy.json"))[:2]
    named = ("HAM_9_PG", "alpha_delta")
    space = _ReflexSpace(scenario, start, True, tmp_path / "out.json", tmp_path, named)
    assert space.x0.shape == (2,)
    moved = space._gains(np.clip(space.x0 + 0.05, 0, 1))
    changed = np.flatnonzero(~np.isclose(moved[0], start[0][0], rtol=1e-12, atol=0))
    assert sorted(changed) == sorted(P[n] for n in named)
    np.testing.assert_array_equal(moved[0], moved[1])
    paretic = rc.load_parameter_file(rc.resolve_parameter_file("hemiparetic-moderate-left.json"))
    per_leg = _ReflexSpace(scenario, paretic[:2], False, tmp_path / "out.json", tmp_path, named)
    assert per_leg.x0.shape == (4,)
    moved = per_leg._gains(np.clip(per_leg.x0 + 0.05, 0, 1))
    for leg in range(2):
        changed = np.flatnonzero(~np.isclose(moved[leg], paretic[0][leg], rtol=1e-12, atol=0))
        assert sorted(changed) == sorted(P[n] for n in named)
    with pytest.raises(ValueError, match="gains: HAM_9: not reflex gains; allowed: theta_tgt"):
        _ReflexSpace(scenario, start, True, tmp_path / "out.json", tmp_path, ("HAM_9",))
    config = CourseTuneConfig(generations=1, population=4, seeds=1, sigma=0.05, gains=named)
    tune_reflex(scenario, config, start, tmp_path / "out.json", tmp_path / "run")
    gains, initial, doc = rc.load_parameter_file(tmp_path / "out.json")
    np.testing.assert_array_equal(initial, start[1])
    keep = sorted(set(range(gains.shape[1])) - {P[n] for n in named})
    np.testing.assert_allclose(gains[:, keep], start[0][:, keep], rtol=1e-12)
    assert doc["tuning"]["gains"] == ["alpha_delta", "HAM_9_PG"]  # in the parameters' order
    with pytest.raises(ValueError, match="gains=\\('HAM_9_PG', 'alpha_delta'\\)"):
        tune_reflex(
            scenario,
            CourseTuneConfig(generations=2, population=4, seeds=1, gains=("alpha_delta",)),
            start,
            tmp_path / "out.json",
            tmp_path / "run",
            resume=True,
        )

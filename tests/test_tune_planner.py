"""Tuning the course planner (gaitsim tune --planner) on a short course session."""

from pathlib import Path

import numpy as np
import pytest

from gaitsim import spec
from gaitsim.catalogue import resolve_scenario
from gaitsim.neural.tune_planner import (
    LIFT_FIELDS,
    STEP_FIELDS,
    PlannerTuneConfig,
    decode,
    encode,
    session,
    tune_planner,
    tuned_fields,
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
    a, b = (session(scenario, CoursePlanner(), s) for s in (5, 5))
    assert a == b  # same seed, same session
    assert 0.0 <= a["success"] <= 1.0
    assert a["cost"] == pytest.approx(1.0 - a["success"] + 0.5 * a["fell"])
    blind = session(scenario, CoursePlanner(enabled=False), 5)
    assert blind["success"] <= a["success"]


def test_tuning_writes_a_planner_table_that_loads_and_resumes(tmp_path: Path):
    scenario = _short(OBSTACLES, 6.0)
    config = PlannerTuneConfig(generations=1, population=4, seeds=1, workers=2)
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
            PlannerTuneConfig(generations=2, population=4, seeds=2),
            out,
            tmp_path,
            resume=True,
        )
    again = tune_planner(
        scenario,
        PlannerTuneConfig(generations=2, population=4, seeds=1),
        out,
        tmp_path,
        resume=True,
    )
    assert again["generations"] == 2
    assert len((tmp_path / "planner-log.csv").read_text().splitlines()) == 3


def test_a_scenario_without_a_course_is_refused():
    plain = spec.load(resolve_scenario("healthy-walk"))
    with pytest.raises(ValueError, match="no course"):
        tune_planner(plain, PlannerTuneConfig(generations=1), Path("unused"), Path("unused"))

"""Course generators: the same course for the same seed, a valid course for any difficulty
in range (property tests with hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaitsim import spec
from gaitsim.courses import KINDS, generate
from gaitsim.model.terrain import ground_height, ground_profile

settings.register_profile("gaitsim", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("gaitsim")

kinds = st.sampled_from(KINDS)
difficulty = st.floats(0.0, 1.0, allow_nan=False)
seeds = st.integers(0, 2**32 - 1)
heights = st.floats(1.2, 2.2)


@given(kinds, difficulty, seeds, st.integers(1, 60), heights)
def test_same_seed_same_course_and_always_valid(kind, d, seed, count, height):
    leg = spec.LEG_PER_HEIGHT * height
    a = generate(kind, d, count, seed, leg)
    assert a == generate(kind, d, count, seed, leg)
    assert len(a) == count
    course = {"elements": a}
    if kind != "terrain":
        course["kind"] = "treadmill"
    scenario = spec.from_dict({"patient": {"height_m": height}, "course": course})
    elements = scenario.course.elements
    # in order along the walk, never overlapping, the ground never below its start
    starts = [e.at_m for e in elements]
    assert starts == sorted(starts)
    profile = ground_profile(elements)
    xs = [p.x0 for p in profile] + [p.x1 for p in profile]
    assert min(ground_height(profile, xs), default=0.0) >= -1e-9


@given(kinds, difficulty, seeds)
def test_harder_is_harder(kind, d, seed):
    """Response time falls and obstacles lengthen with difficulty."""
    easy = generate(kind, d * 0.5, 5, seed, 0.9)
    hard = generate(kind, 0.5 + d * 0.5, 5, seed, 0.9)
    if kind == "obstacles":
        assert hard[0]["response_time_s"] <= easy[0]["response_time_s"]
        assert hard[0]["length_m"] >= easy[0]["length_m"]
    if kind == "targets":
        assert hard[0]["length_m"] <= easy[0]["length_m"]


def test_a_scenario_generates_its_course_and_round_trips():
    data = {"course": {"kind": "treadmill", "generate": {"kind": "obstacles", "count": 30}}}
    scenario = spec.from_dict(data)
    assert len(scenario.course.elements) == 30
    assert spec.from_dict(spec.to_dict(scenario)) == scenario
    targets = spec.from_dict({"course": {"generate": {"kind": "targets", "count": 5}}})
    assert spec.from_dict(spec.to_dict(targets)) == targets  # optional fields saved as null
    other = {
        "course": {
            **data["course"],
            "elements": [{"kind": "obstacle", "at_m": 1.0, "length_m": 0.3}],
        }
    }
    with pytest.raises(spec.ScenarioError, match="give elements or generate, not both"):
        spec.from_dict(other)
    with pytest.raises(spec.ScenarioError, match="course.generate.difficulty"):
        spec.from_dict({"course": {"generate": {"kind": "targets", "difficulty": 2.0}}})

"""Feedback cues on crafted traces: the right cue at the right time."""

import pytest
from course_traces import crafted, walk

from gaitsim.metrics.cues import cues_of
from gaitsim.sim.trace import Event


def _cues(trace, what):
    return [c for c in cues_of(trace) if c.detail["cue"] == what]


def test_a_late_heel_strike_is_cued_when_it_lands():
    steps = walk(12)  # a step every 0.55 s from 0.5 s
    side, t0, t1, x = steps[6]  # a left step
    steps[6] = (side, t0 + 0.3, t1 + 0.3, x)
    timing = _cues(crafted(steps, [], 8.0), "timing")
    # the next right step keeps its time, so it comes early on the rhythm just broken
    assert [c.detail["text"][:28] for c in timing] == [
        "left heel strike late by 0.3",
        "right heel strike early by 0",
    ]
    assert timing[0].detail["deviation_s"] == pytest.approx(0.3, abs=0.011)
    assert timing[1].detail["deviation_s"] == pytest.approx(-0.3, abs=0.011)
    assert timing[0].time_s == pytest.approx(t0 + 0.3, abs=0.006)
    assert all(c.time_s > t0 for c in timing)  # the regular steps before get none


def test_step_length_cues_report_the_best_of_the_session():
    steps = walk(8)
    side, t0, t1, x = steps[4]  # left, heel at 2.4: make it a longer step
    steps[4] = (side, t0, t1, x + 0.1)
    lengths = _cues(crafted(steps, [], 6.0), "step_length")
    texts = [c.detail["text"] for c in lengths]
    assert texts[0] == "step length right 0.60 m, best 0.60 m"
    assert "step length left 0.70 m, best 0.70 m" in texts
    assert texts[-1].startswith("step length right") and texts[-2] == (
        "step length left 0.60 m, best 0.70 m"
    )


def test_obstacle_cue_names_the_foot_and_the_steps():
    trace = crafted(
        walk(8),
        [{"kind": "obstacle", "at_m": 2.5, "length_m": 0.3}],
        6.0,
        events=(Event(2.0, "course_appear", {"element": 0}),),
    )
    (cue,) = _cues(trace, "obstacle")
    # at 2 s the left heel leads at 1.2 m, steps are 0.6 m: right to 1.8, left to 2.4,
    # then the right foot crosses it
    assert cue.detail["text"] == "lift the right foot: obstacle in 3 steps"
    assert cue.time_s == pytest.approx(2.0, abs=0.006)

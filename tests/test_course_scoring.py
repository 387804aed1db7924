"""Course scoring on crafted traces: feet placed exactly where each case needs them."""

import pytest
from course_traces import FOOT_M, crafted, walk

from gaitsim.metrics.course import format_course, planned_step_errors, score_course
from gaitsim.sim.trace import Event, Trace


def _outcomes(score):
    return [r["outcome"] for r in score["elements"]]


def test_obstacle_hit_only_when_a_foot_touches_inside_the_zone():
    steps = walk(10)  # heels at 0, 0.6, 1.2, ... feet 0.25 long
    elements = [
        {"kind": "obstacle", "at_m": 1.5, "length_m": 0.25},  # between feet at 1.2-1.45, 1.8
        {"kind": "obstacle", "at_m": 1.40, "length_m": 0.3},  # touched by the toe at 1.45
        {"kind": "obstacle", "at_m": 1.46, "length_m": 0.33},  # 1.46..1.79: free
        {"kind": "obstacle", "at_m": 1.45, "length_m": 0.1},  # the toe's tip at 1.45
        {"kind": "obstacle", "at_m": 40.0, "length_m": 0.3},  # never reached
    ]
    score = score_course(crafted(steps, elements, 6.0))
    assert _outcomes(score) == ["avoided", "hit", "avoided", "hit", "not_reached"]
    assert score["obstacles"] == {
        "n": 5,
        "judged": 4,
        "avoided": 2,
        "success_rate": 0.5,
        "hits_by_cause": {"toe": 2, "heel": 0, "swing": 0},
    }


def test_a_hit_names_the_foot_and_why_it_touched():
    """The left foot stands at 1.2-1.45 from 1.6 s to 2.25 s, the right at 1.8-2.05 from
    2.15 s; the left swings until 2.7 s, and in that swing its toe scuffs the ground at 2.2 m
    (30 ms, 20 % body weight)."""
    from course_traces import MASS_KG

    steps = walk(8)
    elements = [
        {"kind": "obstacle", "at_m": 1.40, "length_m": 0.2},  # the left toe at 1.45
        {"kind": "obstacle", "at_m": 1.70, "length_m": 0.2},  # the right heel at 1.8
        {"kind": "obstacle", "at_m": 2.10, "length_m": 0.2},  # between 2.05 and 2.4: scuffed
        {"kind": "obstacle", "at_m": 3.28, "length_m": 0.2},  # between 3.25 and 3.6: free
    ]
    trace = crafted(steps, elements, 5.0)
    t = trace.time_s
    scuff = (t >= 2.4) & (t < 2.43)
    toe, grf = trace["toe_left_pos_m"].copy(), trace["grf_left_n"].copy()
    toe[scuff, 0], toe[scuff, 2], grf[scuff, 2] = 2.2, 0.0, 0.2 * MASS_KG * 9.81
    scuffed = Trace(t, {**trace.channels, "toe_left_pos_m": toe, "grf_left_n": grf}, (), trace.meta)
    score = score_course(scuffed)
    rows = score["elements"]
    assert _outcomes(score) == ["hit", "hit", "hit", "avoided"]
    assert [(r["side"], r["cause"]) for r in rows[:3]] == [
        ("left", "toe"),
        ("right", "heel"),
        ("left", "swing"),
    ]
    assert rows[0]["landed_heel_m"] == pytest.approx(1.2) and "cause" not in rows[3]
    assert score["obstacles"]["hits_by_cause"] == {"toe": 1, "heel": 1, "swing": 1}
    assert "hits: 1 toe, 1 heel, 1 swing" in format_course(score)


def test_planned_steps_are_scored_against_their_last_plan():
    """The planner aims the left heel at 1.24 m (it lands at 1.2 at 1.6 s) and the right at
    1.7, then re-plans it to 1.82 before it lands at 1.8 (2.15 s): the last plan counts."""
    plans = (
        Event(1.0, "step_adjust", {"side": "left", "land_m": 1.24, "step_change_m": 0.1}),
        Event(1.7, "step_adjust", {"side": "right", "land_m": 1.7, "step_change_m": -0.1}),
        Event(1.8, "step_adjust", {"side": "right", "land_m": 1.82, "step_change_m": 0.02}),
    )
    obstacle = [{"kind": "obstacle", "at_m": 5.0, "length_m": 0.3}]
    trace = crafted(walk(8), obstacle, 4.0, events=plans)
    rows = planned_step_errors(trace)
    assert [(r["side"], r["time_s"]) for r in rows] == [
        ("left", pytest.approx(1.6)),
        ("right", pytest.approx(2.15, abs=0.006)),
    ]
    assert [r["error_m"] for r in rows] == [pytest.approx(-0.04), pytest.approx(-0.02)]
    summary = score_course(trace)["planned_steps"]
    assert summary["n"] == 2 and summary["error_mean_m"] == pytest.approx(-0.03)
    assert summary["error_sd_m"] == pytest.approx(0.01) and summary["within_tol_fraction"] == 1
    assert "planned steps   2 landed -3.0 +- 1.0 cm from plan, 100 % within 5 cm" in (
        format_course(score_course(trace))
    )
    assert "planned_steps" not in score_course(crafted(walk(8), obstacle, 4.0))
    # the review report's course table carries both
    from gaitsim.render.report import ReviewRun, _course_table

    table = _course_table([ReviewRun("r", trace, None, score_course(trace))])  # type: ignore[arg-type]
    assert "<th>planned steps from plan</th>" in table
    assert "<td>-3.0 ± 1.0 cm (100 % within 5 cm)</td>" in table
    assert "obstacle hits by cause" not in table  # no run hit an obstacle: column left out


@pytest.mark.parametrize(
    ("load_bw", "outcome"), [(0.0, "avoided"), (0.015, "avoided"), (0.2, "hit")]
)
def test_a_toe_skimming_the_zone_touches_it_only_when_the_force_plate_feels_it(load_bw, outcome):
    """Push-off: after its stance (toe flat at 1.45) the left toe slides at ground level
    across a zone just ahead (1.51-1.57 inside 1.50-1.75) for 30 ms, then presses once more
    behind it. The gait events bridge the 30 ms (shorter than a phase) and call the foot
    loaded throughout; only the sample's own force above TOUCH_BW (2 % body weight) makes
    the slide a contact, as on the C-Mill's force plate."""
    from course_traces import MASS_KG

    from gaitsim.metrics.course import TOUCH_BW

    assert TOUCH_BW == 0.02
    steps = walk(6)  # left heel at 1.2 from 1.6 s to 2.25 s
    trace = crafted(steps, [{"kind": "obstacle", "at_m": 1.5, "length_m": 0.25}], 4.0)
    t = trace.time_s
    bw = MASS_KG * 9.81
    slide, press = (t >= 2.25) & (t < 2.28), (t >= 2.28) & (t < 2.29)
    toe, grf = trace["toe_left_pos_m"].copy(), trace["grf_left_n"].copy()
    toe[slide, 0] = 1.51 + 2.0 * (t[slide] - 2.25)
    toe[slide | press, 2] = 0.0
    toe[press, 0] = 1.45
    grf[slide, 2] = load_bw * bw
    grf[press, 2] = 0.3 * bw
    channels = {**trace.channels, "toe_left_pos_m": toe, "grf_left_n": grf}
    skimmed = Trace(t, channels, trace.events, trace.meta)
    assert _outcomes(score_course(skimmed)) == [outcome]


def test_target_hit_only_when_the_foot_lands_inside_and_reported_per_leg():
    steps = walk(8)  # mid-stance CoP at k 0.6 + 0.125
    elements = [
        {"kind": "target", "at_m": 1.2, "length_m": 0.3},  # CoP 1.325 (left, k=2): inside
        {"kind": "target", "at_m": 1.8 + FOOT_M / 2 + 0.01, "length_m": 0.3},  # just past
        {"kind": "target", "at_m": 0.55, "length_m": 0.2, "side": "right"},  # 0.725: right
        {"kind": "target", "at_m": 2.95, "length_m": 0.2, "side": "left"},  # 3.125 is right's
    ]
    score = score_course(crafted(steps, elements, 6.0))
    rows = score["elements"]
    assert _outcomes(score) == ["hit", "missed", "hit", "missed"]
    assert [r["side"] for r in rows] == ["left", "right", "right", "left"]
    assert rows[1]["error_m"] == pytest.approx(-0.16, abs=1e-9)
    assert score["targets"]["left"]["hit"] == 1 and score["targets"]["left"]["judged"] == 2
    assert score["targets"]["right"]["success_rate"] == 0.5


def test_treadmill_positions_are_on_the_belt_and_response_time_is_measured():
    # on a 1 m/s belt the patient walks in place: the feet land at the same world x while
    # their positions along the belt advance as overground
    steps = walk(8)  # positions along the belt: crafted() adds its displacement
    trace = crafted(
        steps,
        [{"kind": "obstacle", "at_m": 1.5, "length_m": 0.25}],
        5.0,
        treadmill_speed_m_s=1.0,
        events=(Event(0.6, "course_appear", {"element": 0}),),
    )
    row = score_course(trace)["elements"][0]
    assert row["outcome"] == "avoided"
    # the first toe past the near edge: the right foot landing at 1.8 m at 2.15 s
    assert row["response_time_s"] == pytest.approx(2.15 - 0.6, abs=0.006)


def test_pedestrian_walking_area_boxes_and_terrain():
    steps = walk(10)
    elements = [
        {"kind": "pedestrian", "at_m": 2.0, "at_s": 2.0, "width_m": 0.6},  # pelvis at 2 m
        {"kind": "pedestrian", "at_m": 5.0, "at_s": 1.0, "width_m": 0.6},  # long gone
        {"kind": "walking_area", "at_s": 1.0, "duration_s": 2.0, "speed_m_s": 1.0},
        {"kind": "walking_area", "at_s": 1.0, "duration_s": 2.0, "speed_m_s": 0.0},
        {"kind": "box", "at_m": 1.5, "length_m": 0.25, "height_m": 0.05},  # stepped over
        {"kind": "box", "at_m": 2.5, "length_m": 0.25, "height_m": 0.05},  # toe at 2.65
        {"kind": "curb", "at_m": 3.0, "height_m": 0.05},
    ]
    score = score_course(crafted(steps, elements, 6.0))
    assert _outcomes(score) == ["hit", "avoided", "scored", "scored", "avoided", "hit", "crossed"]
    areas = score["elements"][2:4]
    assert areas[0]["inside_fraction"] == 1.0
    # standing still area, pelvis at 1 m/s: inside for the first 0.5 s of 2 s
    assert areas[1]["inside_fraction"] == pytest.approx(0.25, abs=0.01)
    assert score["session"]["judged"] == 5 and score["session"]["successes"] == 3
    assert score["boxes"]["success_rate"] == 0.5


def test_no_elements_no_score():
    assert score_course(crafted(walk(4), [], 3.0)) is None


def test_a_fall_just_past_a_curb_fails_it():
    steps = walk(8)
    curb = [{"kind": "curb", "at_m": 1.5, "height_m": 0.05}]
    assert score_course(crafted(steps, curb, 3.0))["elements"][0]["outcome"] == "crossed"
    # the pelvis reaches 3 m: a fall there is within two leg lengths (1.8 m) of the curb
    fallen = score_course(crafted(steps, curb, 3.0, reason="fall"))
    assert fallen["elements"][0]["outcome"] == "failed"
    assert fallen["terrain"]["success_rate"] == 0.0

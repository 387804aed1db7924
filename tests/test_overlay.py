"""What a video shows over the body (gaitsim.render.overlay), on crafted traces."""

from __future__ import annotations

import numpy as np
from course_traces import crafted, walk

from gaitsim.render.overlay import CUE_SHOW_S, course_marks, cue_at, hud_series
from gaitsim.sim.trace import Event


def test_marks_appear_move_with_the_belt_and_take_their_outcome_when_decided() -> None:
    """Obstacle 0 lies between landings (avoided), obstacle 1 under the heel landing at
    1.8 m (hit); they show from their appearance events and take their colour once the
    pelvis is past their far edge."""
    elements = [
        {"kind": "obstacle", "at_m": 0.9, "length_m": 0.2},
        {"kind": "obstacle", "at_m": 1.7, "length_m": 0.2},
        {"kind": "target", "at_m": 2.9, "length_m": 0.2},  # never appears: not drawn
    ]
    events = (
        Event(0.2, "course_appear", {"element": 0, "kind": "obstacle", "at_m": 0.9}),
        Event(0.6, "course_appear", {"element": 1, "kind": "obstacle", "at_m": 1.7}),
    )
    trace = crafted(walk(8), elements, 5.0, speed_m_s=1.0, events=events, treadmill_speed_m_s=1.0)
    marks = course_marks(trace)
    assert [(m.kind, m.start_m, m.shown_s) for m in marks] == [
        ("obstacle", 0.9, 0.2),
        ("obstacle", 1.7, 0.6),
    ]
    avoided, hit = marks
    assert (avoided.outcome, avoided.good) == ("avoided", True)
    assert (hit.outcome, hit.good) == ("hit", False)
    # the pelvis moves 1 m/s along the belt from 0: past 1.1 m at 1.1 s, past 1.9 m at 1.9 s
    assert abs(avoided.decided_s - 1.1) < 0.01 and abs(hit.decided_s - 1.9) < 0.01
    assert avoided.span_at(3.0) == (0.9, avoided.end_m)  # a projected zone does not move


def test_hud_speed_is_over_the_belt_and_phases_follow_the_feet() -> None:
    trace = crafted(walk(8), [], 5.0, speed_m_s=0.8, treadmill_speed_m_s=1.2)
    hud = hud_series(trace)
    t = np.asarray(trace.time_s)
    steady = t > 1.5
    np.testing.assert_allclose(hud.speed_m_s[steady], 0.8, atol=1e-6)
    # left heel strikes at 0.5 + 1.1 k, right at 1.05 + 1.1 k, stance 0.65 s: at 1.75 s
    # the left foot is 0.15 s into its cycle, the right one in swing
    i = int(np.searchsorted(t, 1.75))
    assert hud.stance["left"][i] and not hud.stance["right"][i]
    assert abs(hud.cycle_pct["left"][i] - 100 * 0.15 / 1.1) < 1.0
    assert np.isnan(hud.cycle_pct["right"][0])  # before its first heel strike
    labels = [label for label, _ in hud.lines(i)]
    assert labels == ["speed", "left", "right"]  # no device, no assist level


def test_a_cue_shows_from_its_time_for_cue_show_s() -> None:
    events = (
        Event(1.0, "cue", {"text": "lift the left foot: obstacle in 2 steps"}),
        Event(1.5, "cue", {"text": "step length left 0.42 m, best 0.47 m"}),
    )
    trace = crafted(walk(4), [], 5.0, events=events)
    assert cue_at(trace, 0.99) is None
    assert cue_at(trace, 1.0) == "lift the left foot: obstacle in 2 steps"
    assert cue_at(trace, 1.6) == "step length left 0.42 m, best 0.47 m"
    assert cue_at(trace, 1.5 + CUE_SHOW_S + 0.01) is None


def test_an_assist_as_needed_run_records_its_assist_level_and_the_hud_shows_it() -> None:
    from gaitsim import spec
    from gaitsim.catalogue import resolve_scenario
    from gaitsim.sim.simulation import simulate

    d = spec.to_dict(spec.load(resolve_scenario("gait-trainer-severe-left")))
    d["run"]["duration_s"] = 1.0
    d["device"].update(controller="assist-as-needed", controller_settings={})
    trace = simulate(spec.from_dict(d))
    level = np.asarray(trace["device_assist_level"])
    assert level.shape == (len(trace), 2)
    assert np.all((level >= 0.0) & (level <= 1.0))
    assert ("assist", f"L {level[-1, 0]:.2f}  R {level[-1, 1]:.2f}") in hud_series(trace).lines(
        len(trace) - 1
    )
    d["device"]["controller"] = "transparent"
    assert "device_assist_level" not in simulate(spec.from_dict(d))

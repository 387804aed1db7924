"""Gait metrics reproduce known answers on synthetic traces built directly with numpy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gaitsim.constants import SIDES, angle_channel, grf_channel, heel_channel, toe_channel
from gaitsim.metrics import (
    SUMMARY_KEYS,
    detect_events,
    format_table,
    hysteresis_contact,
    mos_ap_at_heel_strikes,
    side_events,
    step_table,
    summarize,
    swing_min_toe_clearance,
    symmetry_index_pct,
    symmetry_ratio,
)
from gaitsim.sim.trace import Trace

DT = 0.001
MASS_KG = 70.0
BW_N = MASS_KG * 9.81
LEG_M = 0.9
STRIDE_N = 1000  # samples per stride: 1.0 s stride, 0.5 s step, 120 steps/min
FIRST_HS_N = {"left": 200, "right": 700}
FOOT_M = 0.2  # heel to toe
COM_X0_M = 0.11  # CoM x at t = 0
META = {"body": {"mass_kg": MASS_KG, "height_m": 1.75, "leg_length_m": LEG_M}, "record_step_s": DT}


def _toe_swing_z(s: np.ndarray, mtc_m: float) -> np.ndarray:
    """Toe height over swing (s in [0, 1]): two humps, distinct minimum ``mtc_m`` at s = 0.5."""
    return mtc_m * np.sin(np.pi * s) + 0.01 * (1.0 - np.cos(4.0 * np.pi * s))


def _knee(p: np.ndarray, peak_rad: float) -> np.ndarray:
    """Knee angle over the cycle: 0 at 22 % GC, ``peak_rad`` at 72 % GC (in swing)."""
    return peak_rad * (0.5 - 0.5 * np.cos(2.0 * np.pi * (p - 0.22)))


def walker(
    step_m: dict[str, float] | None = None,
    stance_s: dict[str, float] | None = None,
    mtc_m: dict[str, float] | None = None,
    knee_peak_rad: dict[str, float] | None = None,
    grf_peak_bw: dict[str, float] | None = None,
    duration_s: float = 6.0,
) -> Trace:
    """A periodic walker: left heel strikes at 0.2 + k s, right at 0.7 + k s, stride 1 s."""
    step_m = step_m or {"left": 0.6, "right": 0.6}
    stance_s = stance_s or {"left": 0.6, "right": 0.6}
    mtc_m = mtc_m or {"left": 0.015, "right": 0.010}
    knee_peak_rad = knee_peak_rad or {"left": 1.0, "right": 0.7}
    grf_peak_bw = grf_peak_bw or {"left": 1.1, "right": 1.0}
    stride_m = step_m["left"] + step_m["right"]
    speed = stride_m / (STRIDE_N * DT)
    n = np.arange(int(round(duration_s / DT)) + 1)
    t = n * DT
    # Landing x of the k-th heel strike: right lands at 1.2 + k·stride, left a left step ahead
    # of the previous right landing.
    land0 = {"right": 1.2, "left": 1.2 - stride_m + step_m["left"]}
    ch: dict[str, np.ndarray] = {}
    for side in SIDES:
        k, within = np.divmod(n - FIRST_HS_N[side], STRIDE_N)
        stance_n = int(round(stance_s[side] / DT))
        in_stance = within < stance_n
        p_now = land0[side] + k * stride_m
        s = np.clip((within - stance_n) / (STRIDE_N - stance_n), 0.0, 1.0)
        heel_x = np.where(in_stance, p_now, p_now + stride_m * (1 - np.cos(np.pi * s)) / 2)
        toe_z = np.where(in_stance, 0.0, _toe_swing_z(s, mtc_m[side]))
        q = within / stance_n
        fz = np.where(in_stance, BW_N * (0.5 + (grf_peak_bw[side] - 0.5) * np.sin(np.pi * q)), 0.0)
        zeros = np.zeros_like(t)
        ch[grf_channel(side)] = np.stack([zeros, zeros, fz], axis=1)
        ch[heel_channel(side)] = np.stack([heel_x, zeros, zeros], axis=1)
        ch[toe_channel(side)] = np.stack([heel_x + FOOT_M, zeros, toe_z], axis=1)
        p = within / STRIDE_N
        ch[angle_channel("knee", side)] = _knee(p, knee_peak_rad[side])
        ch[angle_channel("hip", side)] = 0.35 * np.cos(2 * np.pi * p)
        ch[angle_channel("ankle", side)] = 0.2 * np.sin(2 * np.pi * p)
    com = np.stack([COM_X0_M + speed * t, np.zeros_like(t), np.full_like(t, 0.9)], axis=1)
    ch["com_pos_m"] = com
    ch["com_vel_m_s"] = np.tile([speed, 0.0, 0.0], (t.size, 1))
    ch["pelvis_pos_m"] = com.copy()
    return Trace(time_s=t, channels=ch, meta=META)


def standing_still(force_bw: float, duration_s: float = 3.0) -> Trace:
    """Both feet with a constant vertical load (0 = airborne/no contact, > 0 = lying/standing)."""
    t = np.arange(int(round(duration_s / DT)) + 1) * DT
    ch = {}
    for side in SIDES:
        zeros = np.zeros_like(t)
        ch[grf_channel(side)] = np.stack([zeros, zeros, np.full_like(t, force_bw * BW_N)], axis=1)
        ch[heel_channel(side)] = np.zeros((t.size, 3))
        ch[toe_channel(side)] = np.zeros((t.size, 3))
        for joint in ("hip", "knee", "ankle"):
            ch[angle_channel(joint, side)] = zeros
    ch["com_pos_m"] = np.tile([0.0, 0.0, 0.1], (t.size, 1))
    ch["com_vel_m_s"] = np.zeros((t.size, 3))
    return Trace(time_s=t, channels=ch, meta=META)


# --- events ---------------------------------------------------------------------------------


def test_events_of_a_periodic_walker_fall_on_the_known_times():
    events = detect_events(walker())
    np.testing.assert_allclose(events["left"].heel_strike_s, 0.2 + np.arange(6), atol=1.5e-3)
    np.testing.assert_allclose(events["left"].toe_off_s, 0.8 + np.arange(6), atol=1.5e-3)
    np.testing.assert_allclose(events["right"].heel_strike_s, 0.7 + np.arange(6), atol=1.5e-3)
    # The right foot is already loaded at t = 0: that contact is truncated, not a heel strike,
    # but its toe-off at 0.3 s is real.
    np.testing.assert_allclose(events["right"].toe_off_s, 0.3 + np.arange(6), atol=1.5e-3)


def _chattering_contact() -> tuple[np.ndarray, np.ndarray]:
    """0.4 s contact at 0.8 BW whose onset and release bounce across both thresholds."""
    t = np.arange(1001) * DT
    force = np.zeros_like(t)
    force[(t >= 0.23) & (t < 0.60)] = 0.8 * BW_N
    for t0 in (0.20, 0.60):  # 30 ms of 5 ms on/off bursts at 6 % BW
        burst = (t >= t0) & (t < t0 + 0.03) & (np.floor((t - t0) / 0.005) % 2 == 0)
        force[burst] = 0.06 * BW_N
    return t, force


def test_minimum_phase_duration_rejects_chatter():
    t, force = _chattering_contact()
    raw = side_events(force, t, 0.05 * BW_N, 0.02 * BW_N, min_phase_s=0.0, min_swing_s=0.0)
    assert raw.heel_strike_idx.size >= 4  # the bursts alone make many "steps"
    clean = side_events(force, t, 0.05 * BW_N, 0.02 * BW_N, min_phase_s=0.05)
    np.testing.assert_allclose(clean.heel_strike_s, [0.20], atol=1e-9)
    np.testing.assert_allclose(clean.toe_off_s, [0.625], atol=1e-9)


def test_hysteresis_holds_state_between_thresholds():
    on, off = 5.0, 2.0
    force = np.array([0, 3.5, 4.9, 3, 6, 3, 2.5, 2.1, 1.9, 3, 4, 0])
    loaded = hysteresis_contact(force, on, off)
    expected = [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    np.testing.assert_array_equal(loaded, np.array(expected, dtype=bool))


def test_short_scuff_is_not_a_step_but_a_real_contact_is():
    t = np.arange(1001) * DT
    scuff = np.where((t >= 0.3) & (t < 0.32), 0.5 * BW_N, 0.0)
    assert side_events(scuff, t, 0.05 * BW_N, 0.02 * BW_N).heel_strike_idx.size == 0
    contact = np.where((t >= 0.3) & (t < 0.4), 0.5 * BW_N, 0.0)
    assert side_events(contact, t, 0.05 * BW_N, 0.02 * BW_N).heel_strike_s.tolist() == [0.3]


def test_a_toe_lifted_and_dragged_after_toe_off_is_not_a_step():
    """A paretic foot that leaves the ground for 80 ms and touches down again (toe drag in
    early swing) stays one stance: heel strike and toe-off of the whole contact."""
    t = np.arange(1001) * DT
    force = np.where((t >= 0.1) & (t < 0.7), 0.8 * BW_N, 0.0)
    force[(t >= 0.78) & (t < 0.85)] = 0.2 * BW_N  # the drag
    ev = side_events(force, t, 0.05 * BW_N, 0.02 * BW_N)
    np.testing.assert_allclose(ev.heel_strike_s, [0.1], atol=1e-9)
    np.testing.assert_allclose(ev.toe_off_s, [0.85], atol=1e-9)
    swung = side_events(force, t, 0.05 * BW_N, 0.02 * BW_N, min_swing_s=0.05)
    assert swung.heel_strike_s.tolist() == pytest.approx([0.1, 0.78])


# --- spatiotemporal and symmetry ------------------------------------------------------------


def test_symmetric_walker_spatiotemporal_parameters():
    d = summarize(walker()).to_dict()
    assert d["n_strides"] == {"left": 5, "right": 5}
    assert d["stride_time_s"] == pytest.approx(1.0, abs=1e-6)
    assert d["cadence_steps_min"] == pytest.approx(120.0, abs=1e-3)
    assert d["speed_m_s"] == pytest.approx(1.2, abs=1e-9)
    assert d["stride_length_m"] == pytest.approx(1.2, abs=1e-9)
    for side in SIDES:
        assert d["step_length_m"][side] == pytest.approx(0.6, abs=1e-9)
        assert d["step_time_s"][side] == pytest.approx(0.5, abs=1e-6)
        assert d["stance_pct"][side] == pytest.approx(60.0, abs=0.15)
        assert d["swing_pct"][side] == pytest.approx(40.0, abs=0.15)
    assert d["double_support_pct"] == pytest.approx(20.0, abs=0.25)
    assert d["symmetry"]["step_length_m"]["ratio"] == pytest.approx(1.0, abs=1e-9)
    assert d["symmetry"]["step_length_m"]["si_pct"] == pytest.approx(0.0, abs=1e-6)


def test_asymmetric_step_length_and_timing_give_known_ratio_and_index():
    trace = walker(step_m={"left": 0.7, "right": 0.5}, stance_s={"left": 0.65, "right": 0.55})
    d = summarize(trace).to_dict()
    assert d["step_length_m"]["left"] == pytest.approx(0.7, abs=1e-9)
    assert d["step_length_m"]["right"] == pytest.approx(0.5, abs=1e-9)
    assert d["stride_length_m"] == pytest.approx(1.2, abs=1e-9)
    sym = d["symmetry"]
    assert sym["step_length_m"]["ratio"] == pytest.approx(1.4, abs=1e-6)
    assert sym["step_length_m"]["si_pct"] == pytest.approx(100 * 0.2 / 0.6, abs=1e-4)
    assert sym["stance_time_s"]["left"] == pytest.approx(0.65, abs=1.5e-3)
    assert sym["stance_time_s"]["ratio"] == pytest.approx(0.65 / 0.55, abs=5e-3)
    assert sym["stance_time_s"]["si_pct"] == pytest.approx(100 * 0.1 / 0.6, abs=0.4)
    assert sym["swing_time_s"]["ratio"] == pytest.approx(0.45 / 0.35, abs=5e-3)
    assert sym["swing_time_s"]["si_pct"] == pytest.approx(-100 * 0.1 / 0.4, abs=0.5)
    assert d["stance_pct"]["left"] == pytest.approx(65.0, abs=0.15)
    assert d["swing_pct"]["right"] == pytest.approx(45.0, abs=0.15)
    # Double support 0.05 s after the left and 0.15 s after the right heel strike: 20 % total.
    assert d["double_support_pct"] == pytest.approx(20.0, abs=0.25)


def test_step_time_is_undefined_after_a_missed_contralateral_step():
    t = np.arange(3000) * DT
    steps = step_table(t, np.array([100, 1100, 2100]), np.array([600]), None, None)
    np.testing.assert_allclose(steps.step_time_s, [np.nan, 0.5, np.nan], atol=1e-9)
    assert np.isnan(steps.step_length_m).all()  # no heel channels: unknown, not zero


def test_symmetry_formulas():
    assert symmetry_ratio(0.5, 0.7) == pytest.approx(1.4)
    assert symmetry_index_pct(0.5, 0.7) == pytest.approx(-100 * 0.2 / 0.6)
    assert math.isnan(symmetry_ratio(0.0, 0.7))
    assert math.isnan(symmetry_index_pct(float("nan"), 0.7))


# --- kinematics -----------------------------------------------------------------------------


def test_gait_cycle_curves_and_peak_swing_knee_flexion():
    summary = summarize(walker())
    knee = summary.curves["knee_left"]
    assert knee.n_strides == 5 and knee.mean.shape == (101,)
    np.testing.assert_allclose(knee.mean, _knee(np.linspace(0, 1, 101), 1.0), atol=2e-3)
    assert np.max(knee.sd) < 1e-6
    assert int(np.argmax(knee.mean)) == 72
    np.testing.assert_allclose(
        summary.curves["hip_right"].mean,
        0.35 * np.cos(2 * np.pi * np.linspace(0, 1, 101)),
        atol=3e-3,
    )
    d = summary.to_dict()
    assert d["peak_knee_flexion_swing_deg"]["left"] == pytest.approx(math.degrees(1.0), abs=1e-3)
    assert d["peak_knee_flexion_swing_deg"]["right"] == pytest.approx(math.degrees(0.7), abs=1e-3)


def test_minimum_toe_clearance_is_the_mid_swing_minimum():
    d = summarize(walker(mtc_m={"left": 0.015, "right": 0.008})).to_dict()
    assert d["min_toe_clearance_m"]["left"] == pytest.approx(0.015, abs=1e-5)
    assert d["min_toe_clearance_m"]["right"] == pytest.approx(0.008, abs=1e-5)


def test_toe_clearance_without_a_distinct_minimum_uses_the_middle_of_swing():
    s = np.linspace(0.0, 1.0, 401)
    assert swing_min_toe_clearance(_toe_swing_z(s, 0.02)) == pytest.approx(0.02, abs=1e-6)
    single_hump = 0.05 * np.sin(np.pi * s)
    expected = 0.05 * math.sin(0.75 * math.pi)  # the lower end of the 25–75 % window
    assert swing_min_toe_clearance(single_hump) == pytest.approx(expected, abs=1e-6)


# --- stability and kinetics -----------------------------------------------------------------


def test_margin_of_stability_matches_hand_computation():
    trace = walker(step_m={"left": 0.7, "right": 0.5}, stance_s={"left": 0.65, "right": 0.55})
    d = summarize(trace).to_dict()
    omega0 = math.sqrt(9.81 / LEG_M)
    speed = 1.2
    # First left heel strike at 0.2 s: left heel lands at x = 0.7, toe 0.2 m ahead.
    left = (0.7 + FOOT_M) - (COM_X0_M + speed * 0.2 + speed / omega0)
    # First right heel strike at 0.7 s: right heel lands at x = 1.2.
    right = (1.2 + FOOT_M) - (COM_X0_M + speed * 0.7 + speed / omega0)
    assert d["mos_ap_m"]["left"]["mean"] == pytest.approx(left, abs=1e-6)
    assert d["mos_ap_m"]["left"]["min"] == pytest.approx(left, abs=1e-6)
    assert d["mos_ap_m"]["right"]["mean"] == pytest.approx(right, abs=1e-6)
    assert left == pytest.approx(0.18653, abs=1e-5)


def test_base_of_support_front_is_the_most_anterior_loaded_toe():
    xcom = np.array([1.0, 1.0])
    toe = np.array([1.1, 1.1])
    other_toe = np.array([1.3, 1.3])  # the other foot is ahead (e.g. a short backward step)
    hs = np.array([0, 1])
    mos = mos_ap_at_heel_strikes(xcom, toe, other_toe, np.array([True, False]), hs)
    np.testing.assert_allclose(mos, [0.3, 0.1])  # an unloaded foot is not base of support


def test_grf_peaks_in_body_weights():
    d = summarize(walker(grf_peak_bw={"left": 1.15, "right": 1.05})).to_dict()
    assert d["grf_peak_bw"]["left"] == pytest.approx(1.15, abs=1e-4)
    assert d["grf_peak_bw"]["right"] == pytest.approx(1.05, abs=1e-4)
    assert d["grf_peak_bw"]["max"] == pytest.approx(1.15, abs=1e-4)


# --- summary contract -----------------------------------------------------------------------


def test_to_dict_has_the_documented_key_set_and_is_strict_json():
    d = summarize(walker()).to_dict()
    assert tuple(d) == SUMMARY_KEYS
    assert set(d["symmetry"]) == {"step_length_m", "swing_time_s", "stance_time_s"}
    assert set(d["symmetry"]["swing_time_s"]) == {"left", "right", "ratio", "si_pct"}
    assert set(d["mos_ap_m"]["left"]) == {"mean", "min"}
    assert set(d["grf_peak_bw"]) == {"left", "right", "max"}
    assert json.loads(json.dumps(d, allow_nan=False)) == d


@pytest.mark.parametrize("force_bw", [0.0, 0.4], ids=["no-contact", "fallen-lying"])
def test_trace_without_steps_gives_zero_strides_and_none(force_bw):
    summary = summarize(standing_still(force_bw))
    d = summary.to_dict()
    assert d["n_strides"] == {"left": 0, "right": 0}
    assert d["speed_m_s"] is None and d["cadence_steps_min"] is None
    assert d["step_length_m"] == {"left": None, "right": None}
    assert d["symmetry"]["step_length_m"]["ratio"] is None
    assert d["mos_ap_m"]["right"]["min"] is None
    assert d["grf_peak_bw"]["max"] is None
    json.dumps(d, allow_nan=False)
    assert summary.speed_m_s is None and summary.stance_pct["left"] is None  # not NaN
    assert summary.curves["knee_left"].n_strides == 0
    assert "strides" in format_table(summary)


def test_trace_with_no_channels_does_not_raise():
    t = np.arange(10) * DT
    d = summarize(Trace(time_s=t, channels={}, meta=META)).to_dict()
    assert d["n_strides"] == {"left": 0, "right": 0}
    json.dumps(d, allow_nan=False)


def test_missing_body_mass_is_a_clear_error():
    t = np.arange(10) * DT
    with pytest.raises(ValueError, match="mass_kg"):
        summarize(Trace(time_s=t, channels={}, meta={}))


def test_format_table_lists_the_metrics():
    table = format_table(summarize(walker(step_m={"left": 0.7, "right": 0.5})))
    lines = {line.split("  ")[0]: line for line in table.splitlines()}
    assert "0.700" in lines["step length (m)"] and "0.500" in lines["step length (m)"]
    assert "120.0" in lines["cadence (steps/min)"]
    assert "1.400" in lines["step length symmetry ratio"]


def test_gait_initiation_steps_are_left_out_but_step_to_steps_stay():
    from gaitsim.metrics.events import SideEvents, steady_state

    ev = {
        "left": SideEvents(
            np.array([10, 30]), np.array([]), np.array([0.5, 1.5]), np.array([]), np.zeros(40, bool)
        ),
        "right": SideEvents(
            np.array([20]), np.array([]), np.array([1.0]), np.array([]), np.zeros(40, bool)
        ),
    }
    kept = steady_state(ev, 1.0)
    assert kept["left"].heel_strike_idx.tolist() == [30]
    assert kept["right"].heel_strike_idx.tolist() == [20]

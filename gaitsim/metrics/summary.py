"""GaitSummary: every gait metric of a Trace in one frozen record, plus its JSON form and CLI table.

``GaitSummary.to_dict()`` returns this stable key set (``SUMMARY_KEYS``, in this order). Values
are floats, or None when not computable (no strides, a missing channel); never NaN. ``{L,R}``
means a dict ``{"left": ..., "right": ...}``.

======================================  ========================================================
key                                     value
======================================  ========================================================
``n_strides``                           {L,R} int, strides (heel strike to heel strike) per side
``speed_m_s``                           mean CoM (else pelvis) speed over all strides, m/s
``cadence_steps_min``                   60 / mean step time over both sides, steps/min
``stride_time_s``                       mean stride time over both sides, s
``stride_length_m``                     mean stride length (heel x displacement), both sides, m
``step_length_m``                       {L,R} mean step length (heel x this − heel x other), m
``step_time_s``                         {L,R} mean time from contralateral heel strike, s
``stance_pct``                          {L,R} mean stance time, % of stride
``swing_pct``                           {L,R} mean swing time, % of stride
``double_support_pct``                  mean total double support, % of stride, both sides
``symmetry``                            {"step_length_m", "swing_time_s", "stance_time_s"} each
                                        {"left", "right" (side means, m or s), "ratio"
                                        (larger/smaller, Patterson 2010), "si_pct" ((L−R)/
                                        (0.5(L+R))·100, Robinson 1987)}
``peak_knee_flexion_swing_deg``         {L,R} mean over strides of peak knee flexion in swing, deg
``min_toe_clearance_m``                 {L,R} mean over swings of minimum toe clearance, m
``mos_ap_m``                            {L,R} each {"mean", "min"}: AP margin of stability at the
                                        side's heel strikes (Hof 2005), m; + = XcoM behind toe
``grf_peak_bw``                         {"left", "right"}: mean over stance phases of peak
                                        vertical GRF / BW; "max": largest such peak, both sides
``metabolic``                           None, or {"gross_w_kg", "net_w_kg" (W per kg body
                                        mass), "cost_of_transport_j_kg_m" (net), "per_muscle_w"
                                        {muscle: mean W}}: Umberger 2003 (``metrics.energy``)
``device``                              None, or per module ``{side}_{joint}``: {
                                        "positive_work_j", "negative_work_j",
                                        "peak_interaction_nm", "rms_interaction_nm",
                                        "peak_torque_use", "rms_torque_use", "peak_speed_use"}
======================================  ========================================================

Gait-cycle curves (``GaitSummary.curves``, hip/knee/ankle per side, rad) are arrays and stay out
of the dict. Definitions and sources are in the module that computes each metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gaitsim.constants import SIDES, angle_channel, grf_channel, heel_channel, toe_channel
from gaitsim.metrics._stats import finite_max, finite_mean, finite_min, optional
from gaitsim.metrics.energy import device_energetics, metabolics
from gaitsim.metrics.events import (
    MIN_PHASE_S,
    MIN_SWING_S,
    OFF_BW,
    ON_BW,
    SideEvents,
    body_weight_n,
    detect_events,
    steady_state,
)
from gaitsim.metrics.kinematics import (
    CycleCurve,
    gait_cycle_curves,
    min_toe_clearance,
    peak_in_windows,
)
from gaitsim.metrics.kinetics import stance_peaks_bw
from gaitsim.metrics.spatiotemporal import (
    StepTable,
    StrideTable,
    cadence_steps_min,
    step_table,
    stride_table,
)
from gaitsim.metrics.stability import extrapolated_com_m, mos_ap_at_heel_strikes
from gaitsim.metrics.symmetry import symmetry
from gaitsim.sim.trace import Trace

SUMMARY_KEYS: tuple[str, ...] = (
    "n_strides",
    "speed_m_s",
    "cadence_steps_min",
    "stride_time_s",
    "stride_length_m",
    "step_length_m",
    "step_time_s",
    "stance_pct",
    "swing_pct",
    "double_support_pct",
    "symmetry",
    "peak_knee_flexion_swing_deg",
    "min_toe_clearance_m",
    "mos_ap_m",
    "grf_peak_bw",
    "metabolic",
    "device",
)

Sided = Mapping[str, float | None]


@dataclass(frozen=True)
class GaitSummary:
    """Gait metrics of one trace; see the module docstring for keys and units."""

    n_strides: Mapping[str, int]
    speed_m_s: float | None
    cadence_steps_min: float | None
    stride_time_s: float | None
    stride_length_m: float | None
    step_length_m: Sided
    step_time_s: Sided
    stance_pct: Sided
    swing_pct: Sided
    double_support_pct: float | None
    symmetry: Mapping[str, Sided]
    peak_knee_flexion_swing_deg: Sided
    min_toe_clearance_m: Sided
    mos_ap_m: Mapping[str, Sided]
    grf_peak_bw: Sided
    metabolic: Mapping[str, Any] | None = None
    device: Mapping[str, Any] | None = None
    curves: Mapping[str, CycleCurve] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with exactly ``SUMMARY_KEYS``; NaN/inf become None."""
        return {key: _json_ready(getattr(self, key)) for key in SUMMARY_KEYS}


def _json_ready(value: Any) -> Any:
    """Plain Python copy of a metric value: dicts, ints, floats or None (never NaN)."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return optional(value)


def _x(trace: Trace, name: str) -> np.ndarray | None:
    """Column x (forward) of a (T, 3) channel over the ground, or None when the trace lacks
    it. On a treadmill the ground is the belt: x is taken relative to it."""
    if name not in trace:
        return None
    x = np.asarray(trace[name][:, 0], dtype=float)
    return x - np.asarray(trace["belt_pos_m"], float) if "belt_pos_m" in trace else x


def _com_velocity_x(trace: Trace, com_x: np.ndarray) -> np.ndarray | None:
    """CoM forward velocity over the ground (m/s): the recorded channel (less a treadmill
    belt's velocity), else the time derivative of x."""
    if "com_vel_m_s" in trace:
        v = np.asarray(trace["com_vel_m_s"][:, 0], dtype=float)
        return v - np.asarray(trace["belt_velocity_m_s"], float) if "belt_pos_m" in trace else v
    return np.gradient(com_x, trace.time_s) if len(trace) >= 2 else None


def _leg_length_m(meta: Mapping[str, Any]) -> float | None:
    """``meta["body"]["leg_length_m"]`` when present and positive."""
    try:
        value = float(meta["body"]["leg_length_m"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if value > 0 else None


def _sided(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean of each side's per-stride (or per-step) values."""
    return {side: finite_mean(arr) for side, arr in values.items()}


def _pooled(values: Mapping[str, np.ndarray]) -> float:
    """Mean over the strides of both sides together."""
    return finite_mean(np.concatenate([np.ravel(v) for v in values.values()]))


def _other(side: str) -> str:
    """The contralateral side."""
    return "right" if side == "left" else "left"


def _xcom(trace: Trace) -> np.ndarray | None:
    """Extrapolated CoM x (m), or None without a CoM channel or leg length."""
    com_x = _x(trace, "com_pos_m")
    leg_m = _leg_length_m(trace.meta)
    if com_x is None or leg_m is None:
        return None
    vel_x = _com_velocity_x(trace, com_x)
    return None if vel_x is None else extrapolated_com_m(com_x, vel_x, leg_m)


def _mos(trace: Trace, events: Mapping[str, SideEvents]) -> dict[str, dict[str, float]]:
    """AP margin of stability per side: mean and min over the side's heel strikes (m)."""
    xcom = _xcom(trace)
    no_toe = np.full(len(trace), -np.inf)  # a foot without a toe channel bounds nothing
    out = {}
    for side in SIDES:
        other = _other(side)
        toe, other_toe = _x(trace, toe_channel(side)), _x(trace, toe_channel(other))
        mos = np.zeros(0)
        if xcom is not None and toe is not None:
            mos = mos_ap_at_heel_strikes(
                xcom,
                toe,
                other_toe if other_toe is not None else no_toe,
                events[other].loaded,
                events[side].heel_strike_idx,
            )
        out[side] = {"mean": finite_mean(mos), "min": finite_min(mos)}
    return out


def _swing_metrics(
    trace: Trace, strides: Mapping[str, StrideTable]
) -> tuple[dict[str, float], dict[str, float]]:
    """Peak knee flexion in swing (deg) and minimum toe clearance (m), side means."""
    knee_deg, mtc_m = {}, {}
    for side in SIDES:
        table = strides[side]
        knee, toe = angle_channel("knee", side), toe_channel(side)
        peaks = np.zeros(0)
        if knee in trace:
            peaks = peak_in_windows(trace[knee], table.toe_off_idx, table.next_heel_strike_idx)
        mtc = np.zeros(0)
        if toe in trace:
            mtc = min_toe_clearance(trace[toe][:, 2], table.toe_off_idx, table.next_heel_strike_idx)
        knee_deg[side] = math.degrees(finite_mean(peaks))
        mtc_m[side] = finite_mean(mtc)
    return knee_deg, mtc_m


def _grf_peaks(trace: Trace, events: Mapping[str, SideEvents], bw_n: float) -> dict[str, float]:
    """Mean stance-peak vertical GRF per side and the largest peak overall (BW)."""
    peaks = {}
    for side in SIDES:
        name = grf_channel(side)
        ev = events[side]
        fz = trace[name][:, 2] if name in trace else np.zeros(len(trace))
        peaks[side] = stance_peaks_bw(fz, ev.heel_strike_idx, ev.toe_off_idx, bw_n)
    out = _sided(peaks)
    out["max"] = finite_max(np.concatenate(list(peaks.values())))
    return out


def _column(tables: Mapping[str, Any], name: str) -> dict[str, np.ndarray]:
    """One per-stride (or per-step) column of each side's table."""
    return {side: getattr(tables[side], name) for side in SIDES}


def _symmetry_block(
    strides: Mapping[str, StrideTable], steps: Mapping[str, StepTable]
) -> dict[str, dict[str, float]]:
    """Step length, swing time and stance time symmetry (see :mod:`gaitsim.metrics.symmetry`)."""
    columns = {
        "step_length_m": _column(steps, "step_length_m"),
        "swing_time_s": _column(strides, "swing_time_s"),
        "stance_time_s": _column(strides, "stance_time_s"),
    }
    return {key: symmetry(col["left"], col["right"]) for key, col in columns.items()}


def summarize(
    trace: Trace,
    on_bw: float = ON_BW,
    off_bw: float = OFF_BW,
    min_phase_s: float = MIN_PHASE_S,
    transient_s: float | None = None,
    min_swing_s: float = MIN_SWING_S,
) -> GaitSummary:
    """All gait metrics of a trace (event thresholds as in :func:`detect_events`).

    Heel strikes in the first ``transient_s`` (gait initiation) are left out; by default the
    trace's own ``meta["transient_s"]`` (set by the simulation for runs started mid-gait), else 0.

    Never raises for lack of steps: a trace without heel strikes gives zero strides and None
    values. Raises ValueError only when ``meta["body"]["mass_kg"]`` is missing or invalid.
    """
    time_s = np.asarray(trace.time_s, dtype=float)
    forward_x = _x(trace, "com_pos_m")
    forward_x = forward_x if forward_x is not None else _x(trace, "pelvis_pos_m")
    heel_x = {side: _x(trace, heel_channel(side)) for side in SIDES}
    if transient_s is None:
        transient_s = float(trace.meta.get("transient_s", 0.0))
    events = steady_state(
        detect_events(trace, on_bw, off_bw, min_phase_s, min_swing_s), transient_s
    )
    strides, steps = {}, {}
    for side in SIDES:
        ev, other = events[side], events[_other(side)]
        strides[side] = stride_table(time_s, ev, other.loaded, forward_x, heel_x[side])
        steps[side] = step_table(
            time_s, ev.heel_strike_idx, other.heel_strike_idx, heel_x[side], heel_x[_other(side)]
        )
    knee_deg, mtc_m = _swing_metrics(trace, strides)
    step_times = np.concatenate(list(_column(steps, "step_time_s").values()))
    values: dict[str, Any] = dict(
        n_strides={side: strides[side].n for side in SIDES},
        speed_m_s=_pooled(_column(strides, "speed_m_s")),
        cadence_steps_min=cadence_steps_min(step_times),
        stride_time_s=_pooled(_column(strides, "stride_time_s")),
        stride_length_m=_pooled(_column(strides, "stride_length_m")),
        step_length_m=_sided(_column(steps, "step_length_m")),
        step_time_s=_sided(_column(steps, "step_time_s")),
        stance_pct=_sided(_column(strides, "stance_pct")),
        swing_pct=_sided(_column(strides, "swing_pct")),
        double_support_pct=_pooled(_column(strides, "double_support_pct")),
        symmetry=_symmetry_block(strides, steps),
        peak_knee_flexion_swing_deg=knee_deg,
        min_toe_clearance_m=mtc_m,
        mos_ap_m=_mos(trace, events),
        grf_peak_bw=_grf_peaks(trace, events, body_weight_n(trace.meta)),
    )
    values["metabolic"] = metabolics(trace, values["speed_m_s"])
    values["device"] = device_energetics(trace)
    # Store plain floats/None (never NaN) so attributes and to_dict() agree.
    fields = {key: _json_ready(value) for key, value in values.items()}
    return GaitSummary(**fields, curves=gait_cycle_curves(trace, events))

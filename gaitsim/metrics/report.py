"""Human-readable table of a GaitSummary for the command line."""

from __future__ import annotations

from typing import Any

from gaitsim.metrics.summary import GaitSummary

_MISSING = "-"


def _cell(value: Any, fmt: str) -> str:
    return _MISSING if value is None else fmt.format(value)


def summary_rows(d: dict[str, Any]) -> list[tuple[str, Any, Any, Any, str]]:
    """(label, left, right, both, format) for each line of the table."""
    sym = d["symmetry"]
    mos = d["mos_ap_m"]
    rows: list[tuple[str, Any, Any, Any, str]] = [
        ("strides", d["n_strides"]["left"], d["n_strides"]["right"], None, "{:d}"),
        ("speed (m/s)", None, None, d["speed_m_s"], "{:.2f}"),
        ("cadence (steps/min)", None, None, d["cadence_steps_min"], "{:.1f}"),
        ("stride time (s)", None, None, d["stride_time_s"], "{:.3f}"),
        ("stride length (m)", None, None, d["stride_length_m"], "{:.3f}"),
    ]
    for key, label, fmt in (
        ("step_length_m", "step length (m)", "{:.3f}"),
        ("step_time_s", "step time (s)", "{:.3f}"),
        ("stance_pct", "stance (% stride)", "{:.1f}"),
        ("swing_pct", "swing (% stride)", "{:.1f}"),
    ):
        rows.append((label, d[key]["left"], d[key]["right"], None, fmt))
    rows.append(("double support (% stride)", None, None, d["double_support_pct"], "{:.1f}"))
    for key, label in (
        ("step_length_m", "step length"),
        ("swing_time_s", "swing time"),
        ("stance_time_s", "stance time"),
    ):
        rows.append((f"{label} symmetry ratio", None, None, sym[key]["ratio"], "{:.3f}"))
        rows.append((f"{label} symmetry index (%)", None, None, sym[key]["si_pct"], "{:+.1f}"))
    for key, label, fmt in (
        ("peak_knee_flexion_swing_deg", "peak knee flexion, swing (deg)", "{:.1f}"),
        ("min_toe_clearance_m", "min toe clearance (m)", "{:.4f}"),
    ):
        rows.append((label, d[key]["left"], d[key]["right"], None, fmt))
    rows.append(("MoS AP mean (m)", mos["left"]["mean"], mos["right"]["mean"], None, "{:+.3f}"))
    rows.append(("MoS AP min (m)", mos["left"]["min"], mos["right"]["min"], None, "{:+.3f}"))
    grf = d["grf_peak_bw"]
    rows.append(("peak vertical GRF (BW)", grf["left"], grf["right"], grf["max"], "{:.2f}"))
    met = d["metabolic"]
    if met is not None:
        rows.append(("metabolic rate, net (W/kg)", None, None, met["net_w_kg"], "{:.2f}"))
        cot = met["cost_of_transport_j_kg_m"]
        rows.append(("cost of transport, net (J/kg/m)", None, None, cot, "{:.2f}"))
    device = d["device"] or {}
    joints = dict.fromkeys(module.split("_", 1)[1] for module in device)
    for joint in joints:
        left, right = device.get(f"left_{joint}"), device.get(f"right_{joint}")
        for key, label, fmt in (
            ("positive_work_j", "work + (J)", "{:.1f}"),
            ("negative_work_j", "work - (J)", "{:.1f}"),
            ("peak_interaction_nm", "peak interaction (N m)", "{:.2f}"),
            ("peak_torque_use", "peak torque / limit", "{:.2f}"),
            ("rms_torque_use", "RMS torque / continuous", "{:.2f}"),
        ):
            l_cell = left[key] if left else None
            r_cell = right[key] if right else None
            rows.append((f"device {joint}: {label}", l_cell, r_cell, None, fmt))
    return rows


def format_table(summary: GaitSummary) -> str:
    """The summary as an aligned text table: metric, left, right, both sides (max for GRF)."""
    header = f"{'metric':<36}{'left':>10}{'right':>10}{'both':>10}"
    lines = [header, "-" * len(header)]
    for label, left, right, both, fmt in summary_rows(summary.to_dict()):
        cells = "".join(f"{_cell(v, fmt):>10}" for v in (left, right, both))
        lines.append(f"{label:<36}{cells}")
    return "\n".join(lines)

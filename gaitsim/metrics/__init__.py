"""Gait analysis of a Trace: events, spatiotemporal parameters, symmetry, kinematics, stability.

Small pure functions over numpy arrays, plus :func:`summarize` that runs them all on a
:class:`~gaitsim.sim.trace.Trace` and returns a :class:`GaitSummary` (JSON key set documented in
:mod:`gaitsim.metrics.summary`).
"""

from gaitsim.metrics.events import (
    SideEvents,
    body_weight_n,
    detect_events,
    hysteresis_contact,
    reject_short_phases,
    side_events,
)
from gaitsim.metrics.kinematics import (
    CycleCurve,
    cycle_curve,
    gait_cycle_curves,
    min_toe_clearance,
    normalise_cycles,
    peak_in_windows,
    swing_min_toe_clearance,
)
from gaitsim.metrics.kinetics import stance_peaks_bw
from gaitsim.metrics.report import format_table
from gaitsim.metrics.spatiotemporal import (
    StepTable,
    StrideTable,
    cadence_steps_min,
    step_table,
    stride_table,
)
from gaitsim.metrics.stability import extrapolated_com_m, mos_ap_at_heel_strikes
from gaitsim.metrics.summary import SUMMARY_KEYS, GaitSummary, summarize
from gaitsim.metrics.symmetry import symmetry, symmetry_index_pct, symmetry_ratio

__all__ = [
    "SUMMARY_KEYS",
    "CycleCurve",
    "GaitSummary",
    "SideEvents",
    "StepTable",
    "StrideTable",
    "body_weight_n",
    "cadence_steps_min",
    "cycle_curve",
    "detect_events",
    "extrapolated_com_m",
    "format_table",
    "gait_cycle_curves",
    "hysteresis_contact",
    "min_toe_clearance",
    "mos_ap_at_heel_strikes",
    "normalise_cycles",
    "peak_in_windows",
    "reject_short_phases",
    "side_events",
    "stance_peaks_bw",
    "step_table",
    "stride_table",
    "summarize",
    "swing_min_toe_clearance",
    "symmetry",
    "symmetry_index_pct",
    "symmetry_ratio",
]

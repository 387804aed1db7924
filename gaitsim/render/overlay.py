"""What a video shows over the body, computed from a Trace alone (no OpenGL here).

- :func:`hud_series`: per recorded sample, the heads-up values: walking speed (over the
  ground; on a treadmill relative to the belt, averaged over ``SPEED_WINDOW_S``), each leg's
  gait phase (stance or swing, and the percent of its gait cycle since its last heel strike,
  from the gait events of ``metrics.events``), each device module's motor torque, and the
  device controller's assist level per leg when the trace has one.
- :func:`cue_at`: the feedback cue (``cue`` events of ``metrics.cues``) shown at a time: the
  newest one fired in the last ``CUE_SHOW_S``.
- :func:`course_marks`: the projected (virtual) course elements as marks on the ground:
  where each lies along the course, from when it is shown (its ``course_appear`` event;
  pedestrians and walking areas over their own time), and its outcome from
  ``metrics.course.score_course``, shown from the moment it is decided (a target's landing,
  the pelvis past an obstacle's far edge). Physical elements are in the model and drawn as
  geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gaitsim.constants import SIDES
from gaitsim.metrics.course import course_of, score_course
from gaitsim.metrics.events import detect_events
from gaitsim.model.devices import module_name
from gaitsim.sim.record import device_channel
from gaitsim.sim.trace import Trace

#: Window of the speed shown (s): about a stride, so it does not swing within the stride.
SPEED_WINDOW_S = 1.0
#: How long a cue stays on screen after it fires (s).
CUE_SHOW_S = 2.0
#: Trace channel of the assist level per leg (left, right), when the controller has one.
ASSIST_LEVEL_CHANNEL = "device_assist_level"
#: A crossing pedestrian walks from this far on one side of the path to as far on the other.
PEDESTRIAN_LATERAL_M = 0.6


@dataclass(frozen=True)
class HudSeries:
    """Per recorded sample: ``speed_m_s`` (T,), and per side ``stance`` (T,) bool and
    ``cycle_pct`` (T,) (NaN before the first heel strike), ``torque_nm`` per device module
    (``{side}_{joint}``: (T,)), ``assist_level`` (T, 2) or None."""

    speed_m_s: np.ndarray
    stance: dict[str, np.ndarray]
    cycle_pct: dict[str, np.ndarray]
    torque_nm: dict[str, np.ndarray]
    assist_level: np.ndarray | None

    def lines(self, i: int) -> list[tuple[str, str]]:
        """The heads-up (label, value) lines at sample ``i``."""
        out = [("speed", f"{self.speed_m_s[i]:.2f} m/s")]
        for side in SIDES:
            pct = self.cycle_pct[side][i]
            phase = "stance" if self.stance[side][i] else "swing"
            out.append((side, phase if np.isnan(pct) else f"{phase} {pct:3.0f} %"))
        for module, torque in self.torque_nm.items():
            out.append((module.replace("_", " "), f"{torque[i]:+5.1f} N m"))
        if self.assist_level is not None:
            left, right = self.assist_level[i]
            out.append(("assist", f"L {left:.2f}  R {right:.2f}"))
        return out


def hud_series(trace: Trace) -> HudSeries:
    """The heads-up values of every recorded sample of ``trace``."""
    t = np.asarray(trace.time_s, float)
    x = np.asarray(trace["pelvis_pos_m"][:, 0], float)
    if "belt_pos_m" in trace:
        x = x - np.asarray(trace["belt_pos_m"], float)
    speed = np.zeros_like(t)
    if len(t) > 1:
        back = np.searchsorted(t, t - SPEED_WINDOW_S)
        span = t - t[back]
        speed = np.where(span > 0, (x - x[back]) / np.where(span > 0, span, 1.0), 0.0)
    events = detect_events(trace)
    stance, cycle = {}, {}
    for side in SIDES:
        ev = events[side]
        stance[side] = np.asarray(ev.loaded, bool)
        pct = np.full(len(t), np.nan)
        strikes = np.asarray(ev.heel_strike_idx, int)
        for k, i0 in enumerate(strikes):
            i1 = strikes[k + 1] if k + 1 < len(strikes) else len(t)
            # the last cycle's length is the previous one's (its end is not recorded)
            length = t[i1] - t[i0] if i1 < len(t) else (t[i0] - t[strikes[k - 1]] if k else 1.0)
            pct[i0:i1] = np.clip(100.0 * (t[i0:i1] - t[i0]) / max(length, 1e-6), 0.0, 100.0)
        cycle[side] = pct
    torque = {}
    device = trace.meta.get("device") or {}
    for side, joint in device.get("modules", []):
        name = device_channel("torque_nm", joint, side)
        if name in trace:
            torque[module_name(joint, side).removeprefix("device_")] = np.asarray(
                trace[name], float
            )
    level = (
        np.asarray(trace[ASSIST_LEVEL_CHANNEL], float) if ASSIST_LEVEL_CHANNEL in trace else None
    )
    return HudSeries(speed, stance, cycle, torque, level)


def cue_at(trace: Trace, time_s: float) -> str | None:
    """The text of the newest cue fired in ``(time_s - CUE_SHOW_S, time_s]``, else None."""
    shown = [
        e for e in trace.events if e.kind == "cue" and time_s - CUE_SHOW_S < e.time_s <= time_s
    ]
    return str(shown[-1].detail["text"]) if shown else None


@dataclass(frozen=True)
class Mark:
    """A projected element drawn on the ground: from ``start_m`` to ``end_m`` along the
    course, shown over ``[shown_s, hidden_s)``; ``outcome`` (None until decided or never
    judged) from ``decided_s``; ``speed_m_s``: how fast it moves along the course while
    shown (a walking area); ``lateral``: None, or the lateral position (m) at ``shown_s``
    and at ``hidden_s`` (a pedestrian crossing)."""

    kind: str
    start_m: float
    end_m: float
    shown_s: float
    hidden_s: float
    outcome: str | None
    decided_s: float
    good: bool
    speed_m_s: float = 0.0
    lateral: tuple[float, float] | None = None

    def span_at(self, time_s: float) -> tuple[float, float]:
        """(start, end) along the course at ``time_s``."""
        moved = self.speed_m_s * (min(max(time_s, self.shown_s), self.hidden_s) - self.shown_s)
        return self.start_m + moved, self.end_m + moved

    def lateral_at(self, time_s: float) -> float:
        """Lateral position (m) at ``time_s`` (0 without a lateral motion)."""
        if self.lateral is None:
            return 0.0
        u = (time_s - self.shown_s) / max(self.hidden_s - self.shown_s, 1e-9)
        y0, y1 = self.lateral
        return y0 + (y1 - y0) * min(max(u, 0.0), 1.0)


def course_marks(trace: Trace) -> list[Mark]:
    """The projected elements of the trace's course with when and how each is shown."""
    course = course_of(trace)
    if not course.elements:
        return []
    score = score_course(trace) or {"elements": []}
    rows = {row["element"]: row for row in score["elements"]}
    appeared = {
        int(e.detail["element"]): e.time_s for e in trace.events if e.kind == "course_appear"
    }
    t = np.asarray(trace.time_s, float)
    pelvis = np.asarray(trace["pelvis_pos_m"][:, 0], float)
    if "belt_pos_m" in trace:
        pelvis = pelvis - np.asarray(trace["belt_pos_m"], float)
    end_s = float(t[-1]) if len(t) else 0.0
    marks = []
    for i, e in enumerate(course.elements):
        row: dict[str, Any] = rows.get(i, {})
        outcome = row.get("outcome")
        outcome = None if outcome in (None, "not_reached") else outcome
        if e.kind in ("obstacle", "target"):
            if i not in appeared:
                continue
            end_m = e.at_m + e.length_m
            if e.kind == "target" and "time_s" in row:
                decided = float(row["time_s"])
            else:
                past = np.flatnonzero(pelvis > end_m)
                decided = float(t[past[0]]) if past.size else end_s
            good = outcome == "hit" if e.kind == "target" else outcome == "avoided"
            marks.append(Mark(e.kind, e.at_m, end_m, appeared[i], np.inf, outcome, decided, good))
        elif e.kind == "pedestrian":
            half = 0.5 * e.crossing_s
            # it walks across the path: from one side to the other while it is on the path
            marks.append(
                Mark(
                    e.kind,
                    e.at_m - 0.5 * e.width_m,
                    e.at_m + 0.5 * e.width_m,
                    e.at_s - half,
                    e.at_s + half,
                    outcome,
                    e.at_s + half,
                    outcome == "avoided",
                    lateral=(-PEDESTRIAN_LATERAL_M, PEDESTRIAN_LATERAL_M),
                )
            )
        elif e.kind == "walking_area":
            start = float(np.interp(e.at_s, t, pelvis)) - 0.5 * e.length_m
            marks.append(
                Mark(
                    e.kind,
                    start,
                    start + e.length_m,
                    e.at_s,
                    e.at_s + e.duration_s,
                    None,
                    np.inf,
                    True,
                    speed_m_s=e.speed_m_s,
                )
            )
    return marks

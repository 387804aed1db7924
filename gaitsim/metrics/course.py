"""Scoring a course from a Trace, as the clinic's force plate or camera would: per element
hit or avoided, hit or missed, crossed or not, and a session score.

Operational definitions (REFERENCES 7; Timmermans et al. 2016, Heeren et al. 2013):

- a foot *touches* the ground inside a zone when, at a sample where it carries more than
  ``TOUCH_BW`` of body weight (what the C-Mill's force plate registers as foot contact), the
  part of it on the ground overlaps the zone: the span between its heel and toe contact
  points where both are within ``CONTACT_TOL_M`` of the ground, the one that is, else its
  centre of pressure. The sample's own force counts, not the gait events' hysteresis: a toe
  skimming the ground unloaded in early swing (the events still call the foot loaded until
  the phase has lasted ``MIN_PHASE_S``) is no contact, while a loaded scuff is;
- an **obstacle** (projected zone) is *avoided* when no foot touches inside it, else *hit*;
  a hit names the foot that touched first and its ``cause`` (``HIT_CAUSES``), from where that
  foot last landed (its heel at heel strike) and where it touched: ``toe``, it landed before
  the zone and reached into it with its toe end while standing there (landed too close,
  slid in, or rolled over its toe at push-off); ``heel``, it landed with its heel inside the
  zone or past its near edge (a crossing step too short, a step too long); ``swing``, a
  swinging foot scuffed the ground inside the zone (after its toe-off, or touching more than
  ``SCUFF_M`` ahead of the toe of its landing: it had left its footprint);
- a **target** is *hit* when a step lands in it: the step's centre of pressure at mid-stance
  (halfway between heel strike and toe-off) lies inside; the step judged is the nearest
  landing of the target's foot (``side``) or, without one, of either foot, which then
  counts the target for that leg;
- a **pedestrian** is *hit* when, while it is on the path, the pelvis is inside its zone or
  a foot touches inside it;
- a **box** is *hit* when a heel or toe contact point comes within ``CONTACT_TOL_M`` of it
  (touching its top or its face), else *avoided*; curbs, slopes, stairs and uneven patches
  are *crossed* when the pelvis is a leg length past their end, *failed* when the run fell
  on them or within two leg lengths past them;
- a **walking area** scores the fraction of its time the pelvis stays inside.

The patient's course planner (``gaitsim.neural.supraspinal``) is scored for precision too:
each step it adjusted (``step_adjust`` events) lands its heel some distance from the plan's
``land_m``; ``planned_steps`` gives their mean and spread and the share within
``PLAN_TOL_M``, the precision a margin of that size asks for. What limits a walker's score
on obstacles shows in these two: hits by cause, and how far its steps land from their plans.

Positions are along the course: on a treadmill relative to the belt (projected elements
ride on it), except walking areas, which move in the treadmill's frame. An element the run
never reached (it ended first) is *not reached* and left out of the success rates. The
response time an obstacle or target gave is measured from its ``course_appear`` event to
the first time a toe passes its near edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gaitsim.constants import SIDES, grf_channel
from gaitsim.metrics.events import OFF_BW, SideEvents, body_weight_n, detect_events
from gaitsim.model.terrain import extent, ground_height, ground_profile
from gaitsim.sim.trace import Trace
from gaitsim.spec import Course

#: A contact point (lowest point of the heel or toe sphere) this close to the ground touches it.
CONTACT_TOL_M = 0.01
#: A foot carrying more than this fraction of body weight is on the ground: the gait events'
#: off-threshold (``gaitsim.metrics.events.OFF_BW``), the force a force plate still registers.
TOUCH_BW = OFF_BW

#: A touch this far (m) ahead of the toe of where the foot landed is a swinging foot's.
SCUFF_M = 0.1
#: Why an obstacle was hit (see the module docstring).
HIT_CAUSES = ("toe", "heel", "swing")
#: A planned step landing within this (m) of its plan counts as on target.
PLAN_TOL_M = 0.05

#: Results of an element, by kind.
OUTCOMES = ("avoided", "hit", "missed", "crossed", "failed", "scored", "not_reached")


def course_of(trace: Trace) -> Course:
    """The course of the trace's scenario (``meta["scenario"]["course"]``)."""
    data = trace.meta.get("scenario", {}).get("course", {})
    return Course.model_validate(data)


def _along(trace: Trace, x: np.ndarray) -> np.ndarray:
    """World x -> position along the course (relative to a treadmill's belt)."""
    return x - np.asarray(trace["belt_pos_m"], float) if "belt_pos_m" in trace else x


def foot_spans(trace: Trace, course: Course) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per side, (lo, hi) along the course (T,) of the foot's part on the ground; NaN where
    the foot carries no more than ``TOUCH_BW`` of body weight."""
    profile = ground_profile(course.elements)
    bw = body_weight_n(trace.meta)
    out = {}
    for side in SIDES:
        loaded = np.asarray(trace[grf_channel(side)][:, 2], float) > TOUCH_BW * bw
        heel, toe = trace[f"heel_{side}_pos_m"], trace[f"toe_{side}_pos_m"]
        points = []
        for p in (heel, toe):
            x = np.asarray(p[:, 0], float)
            near = p[:, 2] - ground_height(profile, x) < CONTACT_TOL_M
            points.append((_along(trace, x), near & loaded))
        (hx, hn), (tx, tn) = points
        cop = _along(trace, np.asarray(trace[f"cop_{side}_m"][:, 0], float))
        lo = np.where(hn, hx, np.where(tn, tx, np.where(loaded, cop, np.nan)))
        hi = np.where(tn, tx, np.where(hn, hx, np.where(loaded, cop, np.nan)))
        out[side] = (np.minimum(lo, hi), np.maximum(lo, hi))
    return out


def _touches(spans: Mapping[str, tuple[np.ndarray, np.ndarray]], a: float, b: float) -> np.ndarray:
    """(T,) a foot touches the ground inside [a, b]."""
    hit = np.zeros(len(next(iter(spans.values()))[0]), bool)
    for lo, hi in spans.values():
        with np.errstate(invalid="ignore"):
            hit |= (hi >= a) & (lo <= b)
    return hit


def landings(
    trace: Trace, events: Mapping[str, SideEvents]
) -> dict[str, list[tuple[float, float]]]:
    """Per side, (time of heel strike, centre of pressure along the course at mid-stance)
    of each step with a heel strike and a toe-off."""
    out: dict[str, list[tuple[float, float]]] = {}
    for side in SIDES:
        ev = events[side]
        cop = _along(trace, np.asarray(trace[f"cop_{side}_m"][:, 0], float))
        steps = []
        for hs in ev.heel_strike_idx:
            after = ev.toe_off_idx[ev.toe_off_idx > hs]
            if after.size:
                steps.append((float(trace.time_s[hs]), float(cop[(hs + after[0]) // 2])))
        out[side] = steps
    return out


def score_course(trace: Trace) -> dict[str, Any] | None:
    """Per element its outcome, and the session's success rates (None: no elements)."""
    course = course_of(trace)
    if not course.elements:
        return None
    time_s = np.asarray(trace.time_s, float)
    pelvis_world = np.asarray(trace["pelvis_pos_m"][:, 0], float)
    pelvis = _along(trace, pelvis_world)
    fell = trace.meta.get("termination", {}).get("reason") == "fall"
    leg = float(trace.meta.get("body", {}).get("leg_length_m", 0.9))
    end_s = float(time_s[-1])
    events = detect_events(trace)
    spans = foot_spans(trace, course)
    toes = np.maximum(*(_along(trace, trace[f"toe_{s}_pos_m"][:, 0]) for s in SIDES))
    steps = landings(trace, events)
    appeared = {
        int(e.detail["element"]): e.time_s for e in trace.events if e.kind == "course_appear"
    }
    contact_points = [
        np.asarray(trace[f"{part}_{s}_pos_m"], float) for s in SIDES for part in ("heel", "toe")
    ]
    rows = []
    for i, e in enumerate(course.elements):
        row: dict[str, Any] = {"element": i, "kind": e.kind}
        if hasattr(e, "at_m"):
            row["at_m"] = e.at_m
        if e.kind in ("obstacle", "target", "box", "curb", "slope", "stairs", "uneven"):
            end_m = e.at_m + extent(e)
            # terrain is crossed once the pelvis is a leg length past it (on its feet)
            past = leg if e.kind in ("curb", "slope", "stairs", "uneven") else 0.0
            passed = np.flatnonzero(pelvis > end_m + past)
            reached = np.flatnonzero(toes >= e.at_m)
            if e.kind in ("obstacle", "target") and reached.size and i in appeared:
                row["appeared_s"] = appeared[i]
                row["response_time_s"] = float(time_s[reached[0]]) - appeared[i]
            if e.kind == "obstacle":
                hit = _touches(spans, e.at_m, end_m)
                if hit.any():
                    row.update(outcome="hit", time_s=float(time_s[np.argmax(hit)]))
                    row.update(_hit_cause(trace, spans, events, e.at_m, end_m))
                elif passed.size:
                    row.update(outcome="avoided", time_s=float(time_s[passed[0]]))
                else:
                    row["outcome"] = "not_reached"
            elif e.kind == "target":
                row.update(_target(e, steps) if passed.size else {"outcome": "not_reached"})
            elif e.kind == "box":
                touched = np.zeros(len(time_s), bool)
                for p in contact_points:
                    px = _along(trace, p[:, 0])
                    touched |= (
                        (px >= e.at_m - CONTACT_TOL_M)
                        & (px <= end_m + CONTACT_TOL_M)
                        & (p[:, 2] < e.height_m + CONTACT_TOL_M)
                    )
                if touched.any():
                    row.update(outcome="hit", time_s=float(time_s[np.argmax(touched)]))
                elif passed.size:
                    row.update(outcome="avoided", time_s=float(time_s[passed[0]]))
                else:
                    row["outcome"] = "failed" if fell and reached.size else "not_reached"
            else:
                # a fall within two leg lengths past it was caused by it
                fell_on_it = fell and reached.size and pelvis[-1] < end_m + 2 * leg
                if passed.size and not fell_on_it:
                    row.update(outcome="crossed", time_s=float(time_s[passed[0]]))
                else:
                    row["outcome"] = "failed" if fell_on_it else "not_reached"
        elif e.kind == "pedestrian":
            t0, t1 = e.at_s - e.crossing_s / 2, e.at_s + e.crossing_s / 2
            a, b = e.at_m - e.width_m / 2, e.at_m + e.width_m / 2
            during = (time_s >= t0) & (time_s <= t1)
            inside = during & (((pelvis >= a) & (pelvis <= b)) | _touches(spans, a, b))
            if inside.any():
                row.update(outcome="hit", time_s=float(time_s[np.argmax(inside)]))
            elif end_s >= t1:
                row["outcome"] = "avoided"
            else:
                row["outcome"] = "not_reached"
        elif e.kind == "walking_area":
            row.update(_walking_area(e, time_s, pelvis_world))
        else:  # perturbations are applied, not scored
            continue
        rows.append(row)
    out = {"elements": rows, **_rates(rows)}
    planned = planned_step_errors(trace, events)
    if planned:
        out["planned_steps"] = _planned_summary(planned)
    return out


def _hit_cause(
    trace: Trace,
    spans: Mapping[str, tuple[np.ndarray, np.ndarray]],
    events: Mapping[str, SideEvents],
    a: float,
    b: float,
) -> dict[str, Any]:
    """The foot that touched inside [a, b] first, and why (``HIT_CAUSES``)."""
    first: tuple[int, str] | None = None
    for side, (lo, hi) in spans.items():
        with np.errstate(invalid="ignore"):
            idx = np.flatnonzero((hi >= a) & (lo <= b))
        if idx.size and (first is None or idx[0] < first[0]):
            first = (int(idx[0]), side)
    assert first is not None  # called for a hit
    i, side = first
    ev = events[side]
    heel = _along(trace, np.asarray(trace[f"heel_{side}_pos_m"][:, 0], float))
    toe = _along(trace, np.asarray(trace[f"toe_{side}_pos_m"][:, 0], float))
    strikes, offs = ev.heel_strike_idx[ev.heel_strike_idx <= i], ev.toe_off_idx[ev.toe_off_idx <= i]
    landed = int(strikes[-1]) if strikes.size else i
    swinging = offs.size > 0 and (not strikes.size or offs[-1] > strikes[-1])
    lo = spans[side][0][i]
    if swinging or lo > toe[landed] + SCUFF_M:
        cause = "swing"
    elif heel[landed] < a:
        cause = "toe"
    else:
        cause = "heel"
    return {"side": side, "cause": cause, "landed_heel_m": float(heel[landed])}


def planned_step_errors(
    trace: Trace, events: Mapping[str, SideEvents] | None = None
) -> list[dict[str, Any]]:
    """How precisely the planned steps landed: for each swing the course planner adjusted
    (its last ``step_adjust`` event before the foot's next heel strike), the heel's position
    along the course at that strike against the plan's ``land_m``."""
    events = detect_events(trace) if events is None else events
    plans = [e for e in trace.events if e.kind == "step_adjust" and "land_m" in e.detail]
    out = []
    for side in SIDES:
        heel = _along(trace, np.asarray(trace[f"heel_{side}_pos_m"][:, 0], float))
        mine = [e for e in plans if e.detail["side"] == side]
        strikes = events[side].heel_strike_idx
        times = trace.time_s[strikes]
        for k, e in enumerate(mine):
            after = np.flatnonzero(times > e.time_s)
            if not after.size:
                continue
            strike_s = float(times[after[0]])
            if k + 1 < len(mine) and mine[k + 1].time_s < strike_s:
                continue  # re-planned before landing: the last plan counts
            landed = float(heel[strikes[after[0]]])
            out.append(
                {
                    "side": side,
                    "time_s": strike_s,
                    "change_m": float(e.detail.get("step_change_m", 0.0)),
                    "plan_m": float(e.detail["land_m"]),
                    "error_m": landed - float(e.detail["land_m"]),
                }
            )
    return sorted(out, key=lambda r: r["time_s"])


def _planned_summary(planned: list[dict[str, Any]]) -> dict[str, Any]:
    err = np.array([p["error_m"] for p in planned])
    return {
        "n": len(planned),
        "error_mean_m": float(err.mean()),
        "error_sd_m": float(err.std()),
        "within_tol_fraction": float(np.mean(np.abs(err) <= PLAN_TOL_M)),
        "tol_m": PLAN_TOL_M,
    }


def _target(e: Any, steps: Mapping[str, list[tuple[float, float]]]) -> dict[str, Any]:
    centre = e.at_m + e.length_m / 2
    sides = (e.side,) if e.side is not None else SIDES
    best: tuple[float, str, float, float] | None = None
    for side in sides:
        for t, x in steps[side]:
            d = abs(x - centre)
            if best is None or d < best[0]:
                best = (d, side, t, x)
    if best is None:
        return {"outcome": "not_reached", "side": e.side}
    _, side, t, x = best
    inside = e.at_m <= x <= e.at_m + e.length_m
    return {
        "outcome": "hit" if inside else "missed",
        "side": side,
        "time_s": t,
        "landing_m": x,
        "error_m": x - centre,
    }


def _walking_area(e: Any, time_s: np.ndarray, pelvis_x: np.ndarray) -> dict[str, Any]:
    during = (time_s >= e.at_s) & (time_s <= e.at_s + e.duration_s)
    if not during.any() or time_s[-1] < e.at_s + e.duration_s:
        return {"outcome": "not_reached"}
    start = int(np.argmax(during))
    centre = pelvis_x[start] + e.speed_m_s * (time_s[during] - time_s[start])
    inside = np.abs(pelvis_x[during] - centre) <= e.length_m / 2
    return {"outcome": "scored", "inside_fraction": float(inside.mean())}


def _rate(rows: list[dict[str, Any]], good: str) -> dict[str, Any]:
    judged = [r for r in rows if r["outcome"] != "not_reached"]
    n_good = sum(r["outcome"] == good for r in judged)
    return {
        "n": len(rows),
        "judged": len(judged),
        good: n_good,
        "success_rate": n_good / len(judged) if judged else None,
    }


def _rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    out: dict[str, Any] = {}
    if "obstacle" in by_kind:
        out["obstacles"] = _rate(by_kind["obstacle"], "avoided")
        out["obstacles"]["hits_by_cause"] = {
            c: sum(r.get("cause") == c for r in by_kind["obstacle"]) for c in HIT_CAUSES
        }
    if "target" in by_kind:
        targets = by_kind["target"]
        out["targets"] = {
            "all": _rate(targets, "hit"),
            **{s: _rate([r for r in targets if r.get("side") == s], "hit") for s in SIDES},
        }
    if "pedestrian" in by_kind:
        out["pedestrians"] = _rate(by_kind["pedestrian"], "avoided")
    if "box" in by_kind:
        out["boxes"] = _rate(by_kind["box"], "avoided")
    terrain = [r for k in ("curb", "slope", "stairs", "uneven") for r in by_kind.get(k, [])]
    if terrain:
        out["terrain"] = _rate(terrain, "crossed")
    if "walking_area" in by_kind:
        fractions = [
            r["inside_fraction"] for r in by_kind["walking_area"] if "inside_fraction" in r
        ]
        out["walking_areas"] = {
            "n": len(by_kind["walking_area"]),
            "inside_fraction": float(np.mean(fractions)) if fractions else None,
        }
    # the session score: successes over all judged pass/fail elements
    judged = [r for r in rows if r["outcome"] in ("avoided", "hit", "missed", "crossed", "failed")]
    good = [
        r
        for r in judged
        if (r["kind"] == "target" and r["outcome"] == "hit")
        or (r["kind"] != "target" and r["outcome"] in ("avoided", "crossed"))
    ]
    out["session"] = {
        "judged": len(judged),
        "successes": len(good),
        "score_pct": 100.0 * len(good) / len(judged) if judged else None,
        "not_reached": sum(r["outcome"] == "not_reached" for r in rows),
    }
    return out


def format_course(score: dict[str, Any]) -> str:
    """The session's success rates as lines for the CLI."""

    def rate(r: dict[str, Any], good: str) -> str:
        pct = "-" if r["success_rate"] is None else f"{100 * r['success_rate']:.0f} %"
        return f"{r[good]}/{r['judged']} {good} ({pct})" + (
            f", {r['n'] - r['judged']} not reached" if r["n"] > r["judged"] else ""
        )

    lines = ["course"]
    if "obstacles" in score:
        causes = score["obstacles"].get("hits_by_cause", {})
        why = ", ".join(f"{n} {c}" for c, n in causes.items() if n)
        lines.append(
            f"  obstacles       {rate(score['obstacles'], 'avoided')}"
            + (f"; hits: {why}" if why else "")
        )
    if "targets" in score:
        for key in ("all", "left", "right"):
            lines.append(f"  targets {key:<7} {rate(score['targets'][key], 'hit')}")
    for key, good in (("pedestrians", "avoided"), ("boxes", "avoided"), ("terrain", "crossed")):
        if key in score:
            lines.append(f"  {key:<15} {rate(score[key], good)}")
    if "walking_areas" in score and score["walking_areas"]["inside_fraction"] is not None:
        lines.append(
            f"  walking areas   {100 * score['walking_areas']['inside_fraction']:.0f} % inside"
        )
    if "planned_steps" in score:
        p = score["planned_steps"]
        lines.append(
            f"  planned steps   {p['n']} landed {100 * p['error_mean_m']:+.1f} +- "
            f"{100 * p['error_sd_m']:.1f} cm from plan, {100 * p['within_tol_fraction']:.0f} % "
            f"within {100 * p['tol_m']:.0f} cm"
        )
    session = score["session"]
    pct = "-" if session["score_pct"] is None else f"{session['score_pct']:.0f} %"
    lines.append(f"  session score   {pct} ({session['successes']}/{session['judged']})")
    return "\n".join(lines)

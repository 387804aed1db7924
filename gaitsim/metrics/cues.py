"""Real-time feedback cues, as a therapist or the patient would get them in the clinic: an
analyser fed sample by sample with what the treadmill's force plate (or insoles) and the
projection system know, emitting timed cues. It never looks ahead, so a cue's time is when
it would be given live; run over a Trace (:func:`cues_of`) it gives the cues of a session.

Cues (``kind = "cue"`` events, ``detail["text"]`` the line shown):

- **timing**: a heel strike later or earlier than the rhythm predicts (the other foot's
  last heel strike plus the median of the last step times) by more than ``TIMING_S``:
  "left heel strike late by 0.30 s";
- **obstacle ahead**: when a projected obstacle appears, which foot will reach it first and
  in how many steps, from the leading heel and the step length: "lift the left foot:
  obstacle in 2 steps";
- **step length**: at each heel strike, the step just taken and the side's best of the
  session: "step length left 0.42 m, best 0.47 m" (augmented performance feedback, as the
  Lokomat's or the C-Mill's displays give it).

Loads are judged with the gait events' hysteresis (``gaitsim.metrics.events``: on 5 %, off
2 % body weight, contacts and swings shorter than 50 ms ignored).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gaitsim.constants import SIDES
from gaitsim.metrics.events import MIN_PHASE_S, OFF_BW, ON_BW, body_weight_n
from gaitsim.sim.trace import Event, Trace

#: A heel strike this much off the rhythm (s) gets a timing cue (about a fifth of a healthy
#: step time, 0.55 s: a deviation the patient can feel; modelling choice).
TIMING_S = 0.1
#: Step times the rhythm is taken from.
RHYTHM_STEPS = 4


class CueAnalyser:
    """Online cues from foot loads and heel positions along the course, one sample at a
    time (:meth:`update`), with the course's obstacles announced as they appear
    (:meth:`appear`)."""

    def __init__(self, body_weight_n: float, start_s: float = 0.0) -> None:
        self._on, self._off = ON_BW * body_weight_n, OFF_BW * body_weight_n
        self._loaded: list[bool] | None = None  # from the first sample: no strike at start
        self._changed = [-math.inf, -math.inf]
        self._strike: list[float | None] = [None, None]
        self._heel_at_strike = [math.nan, math.nan]
        self._last_side: int | None = None
        self._step_times: list[float] = []
        self._steps: list[float] = []
        self._best = [-math.inf, -math.inf]
        self.cues: list[Event] = []
        self._start = start_s  # no cues before (a run's start transient)

    @property
    def step_length_m(self) -> float | None:
        return float(np.median(self._steps[-RHYTHM_STEPS:])) if self._steps else None

    def _cue(self, time_s: float, what: str, text: str, **detail: Any) -> None:
        if time_s < self._start:
            return
        self.cues.append(Event(round(time_s, 6), "cue", {"cue": what, "text": text, **detail}))

    def update(self, time_s: float, load_n: Sequence[float], heel_m: Sequence[float]) -> None:
        """One sample: vertical load (N) and heel position along the course (m) per side."""
        if self._loaded is None:
            self._loaded = [bool(f > self._on) for f in load_n]
            return
        for k in range(2):
            on = load_n[k] > self._on if not self._loaded[k] else load_n[k] >= self._off
            if on == self._loaded[k] or time_s - self._changed[k] < MIN_PHASE_S:
                continue
            self._loaded[k], self._changed[k] = on, time_s
            if on:
                self._heel_strike(time_s, k, float(heel_m[k]))

    def _heel_strike(self, t: float, k: int, heel: float) -> None:
        side, other = SIDES[k], 1 - k
        last_other = self._strike[other]
        if last_other is not None and self._last_side == other:
            if len(self._step_times) >= RHYTHM_STEPS:  # a rhythm to judge against
                expected = last_other + float(np.median(self._step_times[-RHYTHM_STEPS:]))
                off = t - expected
                if abs(off) > TIMING_S:
                    word = "late" if off > 0 else "early"
                    self._cue(
                        t,
                        "timing",
                        f"{side} heel strike {word} by {abs(off):.2f} s",
                        side=side,
                        deviation_s=round(off, 4),
                    )
            self._step_times.append(t - last_other)
            step = heel - self._heel_at_strike[other]
            self._steps.append(step)
            self._best[k] = max(self._best[k], step)
            self._cue(
                t,
                "step_length",
                f"step length {side} {step:.2f} m, best {self._best[k]:.2f} m",
                side=side,
                step_length_m=round(step, 4),
            )
        self._strike[k], self._heel_at_strike[k], self._last_side = t, heel, k

    def appear(self, time_s: float, at_m: float, heel_m: Sequence[float], element: int) -> None:
        """A projected obstacle appeared at ``at_m``: which foot reaches it, in how many steps."""
        step = self.step_length_m
        if step is None or step <= 0:
            return
        lead = int(np.argmax(heel_m))
        ahead = at_m - float(heel_m[lead])
        n = max(1, math.ceil(ahead / step))
        # the trailing foot steps next (a foot in swing is the trailing one), then they alternate
        first = 1 - lead
        side = SIDES[first if n % 2 == 1 else lead]
        self._cue(
            time_s,
            "obstacle",
            f"lift the {side} foot: obstacle in {n} step{'s' if n > 1 else ''}",
            side=side,
            steps=n,
            element=element,
        )


def cues_of(trace: Trace) -> list[Event]:
    """The cues of a recorded session: the analyser run over the trace sample by sample,
    silent through the run's start transient (``meta["transient_s"]``, as the gait metrics)."""
    analyser = CueAnalyser(body_weight_n(trace.meta), float(trace.meta.get("transient_s", 0.0)))
    belt = np.asarray(trace["belt_pos_m"], float) if "belt_pos_m" in trace else None
    heel = np.stack([np.asarray(trace[f"heel_{s}_pos_m"][:, 0], float) for s in SIDES], axis=1)
    if belt is not None:
        heel = heel - belt[:, None]
    load = np.stack([np.asarray(trace[f"grf_{s}_n"][:, 2], float) for s in SIDES], axis=1)
    elements = trace.meta.get("scenario", {}).get("course", {}).get("elements", [])
    appear = sorted(
        (e.time_s, int(e.detail["element"])) for e in trace.events if e.kind == "course_appear"
    )
    j = 0
    for i, t in enumerate(np.asarray(trace.time_s, float)):
        analyser.update(float(t), load[i], heel[i])
        while j < len(appear) and appear[j][0] <= t + 1e-9:
            k = appear[j][1]
            if elements[k]["kind"] == "obstacle":
                analyser.appear(float(t), float(elements[k]["at_m"]), heel[i], k)
            j += 1
    return analyser.cues


__all__ = ["TIMING_S", "CueAnalyser", "cues_of"]

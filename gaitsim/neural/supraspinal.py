"""The supraspinal layer a course needs: seeing what lies ahead, the patient lengthens or
shortens a step and lifts the swing foot higher, through the reflex controller's target leg
angle and swing-knee target (Song & Geyer 2015 modulate exactly these two to negotiate
obstacles and stairs; ``gaitsim.neural.reflex``).

At each lift-off (and again when a new zone comes into sight early in the swing) the planner
predicts where the swinging heel will land with a forward model of its own steps, learnt as
it walks: step length = a_leg + g x leg-angle offset, a least-squares fit over the last
``MODEL_STEPS`` steps (the offset held at each touchdown, the heel-to-heel step), pulled
towards a prior (a_leg: the median of the last unadjusted steps; g: -L sin(c0) /
``step_gain``). People calibrate their stepping to what their steps turn out to be (an
internal forward model; Wolpert & Kawato 1998 [memory]); here it matches the offset of a
planned change to the leg's gain as it is now (on the healthy obstacle session the fitted g
ranges -0.95 to -1.34 m/rad, median -1.09 to -1.18, against the prior's -1.09) and its
expected step to all recent steps, adjusted ones included, and gives each leg its own step (a
hemiparetic gait's differ).
Against the elements it sees then:

- projected obstacle zones and boxes: it plans this landing and the next ones (a step length
  apart) clear of them, a margin on both sides, until past every zone in sight (at least
  three landings), with the least sum of squared step changes within its caps (dynamic
  programming over positions), and takes the first change; when nothing clears them, the
  landings least inside them; no landing across a step edge either;
- a stepping target within half a step of the prediction: the step is aimed so the foot's
  middle lands on the target's centre (mid-stance CoP, as it is scored);
- an edge that rises within the step (a box, a curb up, a stair): the knee flexes more in
  swing and the ankle is held dorsiflexed, in proportion to the rise.

A step change of D metres becomes a leg-angle offset of D / g; offsets and lifts are capped
and scaled by the side's descending drive: the adjustment is a voluntary, supraspinal
command, and a weak paretic leg adapts less (fewer and smaller adjustments: Said et al.
1999, obstacle crossing after stroke [memory]), so impairment limits it without a separate
code path. The planner's default gains (``spec.CoursePlanner``) are modelling choices set by
hand on the obstacle scenarios (README, "Courses"); a scenario may carry gains tuned for its
patient with ``gaitsim tune --planner`` (``curb-up-healthy``,
``obstacle-avoidance-hemiparetic-moderate``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gaitsim import constants as C
from gaitsim.metrics.events import MIN_PHASE_S  # a shorter phase is a flicker of the load
from gaitsim.spec import CoursePlanner

#: The course inputs of the patient's controller, after its measurements: per leg (left,
#: right) the target-leg-angle offset and the swing-knee lift (rad).
COURSE_INPUTS: tuple[tuple[str, int], ...] = (("step_offset_rad", 2), ("swing_lift_rad", 2))


#: Fixed parts of the planner (the tunable gains are ``spec.CoursePlanner``).
MAX_LENGTHEN = 0.6  # of the step length
MAX_SHORTEN = 0.5
C0_RAD = 70 * math.pi / 180  # the nominal target leg angle (reflex c0)


#: Landings planned ahead: at least this step and the next two, and as many more as it takes
#: to be past every zone in sight (at most MAX_LANDINGS), on a grid of PLAN_DX_M.
LOOKAHEAD = 3
MAX_LANDINGS = 16
PLAN_DX_M = 0.01

#: Steps the forward model is fitted on, and the weight of its prior (in steps for a_leg; for
#: g, in rad^2 of offsets: about ten adjusted steps' worth).
MODEL_STEPS = 30
PRIOR_WEIGHT = np.array([1.0, 1.0, 0.1])

#: Cost of a metre of foot inside an avoid zone (or its margin), against squared step
#: changes (m^2; at most ~1.5 over MAX_LANDINGS landings): any overlap of 0.1 mm or more
#: outweighs any change.
OVERLAP_COST = 1e5


@dataclass(frozen=True)
class Zone:
    """What the planner avoids or aims at, along the course (m); ``rise_m`` > 0 for an
    edge to clear."""

    kind: str  # "avoid" | "target" | "rise"
    a: float
    b: float
    rise_m: float = 0.0
    side: str | None = None


class Planner:
    """Per-run planner state: the feet's contact phases, the unadjusted step lengths and the
    held adjustment of each leg."""

    def __init__(
        self,
        leg_length_m: float,
        foot_length_m: float,
        drive: Sequence[float],
        settings: CoursePlanner | None = None,
    ) -> None:
        self._leg, self._foot = leg_length_m, foot_length_m
        self._s = settings or CoursePlanner()
        self._drive = np.asarray(drive, float)
        self._loaded = np.ones(2, bool)
        self._since = np.zeros(2)  # time of the last touchdown / lift-off per leg
        # the zones each leg's swing was planned against
        self._seen: list[frozenset[Zone]] = [frozenset(), frozenset()]
        self._adjusted = np.zeros(2, bool)
        self._landed = [math.nan, math.nan]  # heel along the course at each leg's touchdown
        self._steps: list[float] = []
        # the forward model's data: (leg, offset held at touchdown, step), and its fit
        self._model_steps: deque[tuple[int, float, float]] = deque(maxlen=MODEL_STEPS)
        self._model = self._prior()
        self._out = np.zeros(sum(n for _, n in COURSE_INPUTS), np.float32)
        self.decisions: list[dict[str, Any]] = []

    @property
    def step_length_m(self) -> float:
        """The step length the planner expects: median of the last four unadjusted steps,
        else nominal."""
        if self._steps:
            return float(np.median(self._steps[-4:]))
        return 0.75 * self._leg

    def update(
        self, time_s: float, heel_m: np.ndarray, loaded: np.ndarray, zones: Sequence[Zone]
    ) -> np.ndarray:
        """The course inputs (:data:`COURSE_INPUTS`, 4 floats) for this tick, from each
        foot's heel position along the course and load state, and the zones in sight.

        Contact changes count after MIN_PHASE_S in the old phase (a load flickering about
        the threshold is one phase); a swing is re-planned in its first ``replan_s`` when new
        zones come into sight (an online correction; later the leg is committed)."""
        s = self._s
        for k in range(2):
            held = time_s - self._since[k]
            if loaded[k] and not self._loaded[k] and held >= MIN_PHASE_S:  # touchdown
                # steps between landing heels: a stance heel rises and rolls forward later
                self._landed[k] = float(heel_m[k])
                step = self._landed[k] - self._landed[1 - k]
                if 0.0 < step < 2.0 * self._leg:
                    if not self._adjusted[k]:
                        self._steps.append(step)
                    self._model_steps.append((k, float(self._out[k]), step))
                self._out[k] = self._out[2 + k] = 0.0
                self._loaded[k], self._since[k], self._adjusted[k] = True, time_s, False
            elif not loaded[k] and self._loaded[k] and held >= MIN_PHASE_S and loaded[1 - k]:
                self._loaded[k], self._since[k] = False, time_s  # lift-off
                self._model = self._fit()
                self._plan(time_s, k, self._stance_heel(k, heel_m), float(heel_m[k]), zones)
            elif not self._loaded[k] and held <= s.replan_s and frozenset(zones) != self._seen[k]:
                self._plan(time_s, k, self._stance_heel(k, heel_m), float(heel_m[k]), zones)
        return self._out.copy()

    def _prior(self) -> np.ndarray:
        """The forward model (a_left, a_right, g) before data: the expected step, moved by
        L sin(c0) / step_gain per radian (the foot lands L cos(alpha) ahead of the hip)."""
        gain = -self._leg * math.sin(C0_RAD) / max(self._s.step_gain, 1e-6)
        return np.array([self.step_length_m, self.step_length_m, gain])

    def _fit(self) -> np.ndarray:
        """The forward model (a_left, a_right, g), refitted on the last MODEL_STEPS steps:
        least squares pulled towards :meth:`_prior` by PRIOR_WEIGHT."""
        prior = self._prior()
        if not self._model_steps:
            return prior
        rows = np.array(self._model_steps)
        x = np.zeros((len(rows), 3))
        x[np.arange(len(rows)), rows[:, 0].astype(int)] = 1.0
        x[:, 2] = rows[:, 1]
        weight = np.diag(PRIOR_WEIGHT)
        return np.linalg.solve(x.T @ x + weight, x.T @ rows[:, 2] + weight @ prior)

    def _stance_heel(self, k: int, heel_m: np.ndarray) -> float:
        """The stance foot's heel where it landed (its current heel before any landing)."""
        landed = self._landed[1 - k]
        return landed if math.isfinite(landed) else float(heel_m[1 - k])

    def _change(
        self, land: float, step: float, per_rad: float, zones: Sequence[Zone], side: str
    ) -> tuple[float, str]:
        """The step change (m) and why: aim at a target in reach, else keep this landing and
        the next ones until past every avoid zone (at least LOOKAHEAD) clear of them with the
        least sum of squared changes (the least inside them when nothing clears them).
        ``per_rad``: metres of step per radian of offset, the caps' scale."""
        for z in zones:
            if z.kind == "target" and z.side in (None, side):
                aim = (z.a + z.b) / 2 - self._foot / 2
                if abs(aim - land) <= 0.5 * step:
                    return aim - land, "target"
        if not any(z.kind == "avoid" for z in zones):
            return 0.0, ""
        # the changes the leg-angle cap allows, within the step's own limits, on a grid of
        # PLAN_DX_M: change m * dx for m in lo..hi
        dx = PLAN_DX_M
        longest = min(MAX_LENGTHEN * step, self._s.max_offset_rad * per_rad)
        shortest = min(MAX_SHORTEN * step, self._s.max_shorten_rad * per_rad)
        lo, hi = -int(shortest / dx + 1e-9), int(longest / dx + 1e-9)
        changes = np.arange(lo, hi + 1)
        advance = int(round(step / dx))
        drift = step - advance * dx  # landing k lies k x drift beyond its grid position
        avoid = np.array([(z.a, z.b) for z in zones if z.kind == "avoid"])
        m, foot = self._s.margin_m, self._foot
        # landings until the last is past every zone however short the steps: a zone put
        # off beyond the plan is still ahead (planning only a few landings, a walker that
        # cannot clear a zone shortened every step and was carried off the belt's end)
        past = avoid[:, 1].max() + m - (land + lo * dx)
        needed = math.ceil(past / (max(advance + lo, 1) * dx)) + 1
        n = int(np.clip(needed, LOOKAHEAD, MAX_LANDINGS))
        # positions of the landings: index i is land + (i + lo) dx (+ k drift for landing k);
        # landing 0 is land + a change, each next one a step and a change further
        size = (hi - lo) + (n - 1) * (advance + hi) + 1
        x = land + (np.arange(size) + lo) * dx

        def here(k: int) -> np.ndarray:
            # the cost of landing k at each position: metres of the foot, with its margins,
            # inside avoid zones (0 clears them)
            xk = x[:, None] + k * drift
            inside = np.minimum(xk + foot + m, avoid[:, 1]) - np.maximum(xk - m, avoid[:, 0])
            return np.asarray(OVERLAP_COST * np.clip(inside, 0.0, None).sum(-1))

        squared = (changes * dx) ** 2
        after = np.minimum(np.arange(size)[:, None] + advance + changes, size - 1)
        # the least sum of squared changes over the landings, overlap first: a landing that
        # clears every zone beats one that does not, and when none clears the one least
        # inside wins (a foot inside only the margin is not yet a hit); dynamic programming
        # over positions, last landing first
        to_go = here(n - 1)
        for k in range(n - 2, -1, -1):
            to_go = here(k) + (squared + to_go[after]).min(-1)
        total = squared + to_go[changes - lo]
        first = float(changes[int(np.argmin(total))] * dx)
        return first, "avoid" if first else ""

    def _plan(
        self, time_s: float, k: int, stance_heel: float, swing_heel: float, zones: Sequence[Zone]
    ) -> None:
        s, step = self._s, self.step_length_m
        side = C.SIDES[k]
        self._seen[k] = frozenset(zones)
        land = stance_heel + float(self._model[k])
        gain = min(float(self._model[2]), -0.1)  # m/rad: a longer step has a smaller angle
        change, why = self._change(land, step, -gain, zones, side)
        land += change
        lift = 0.0
        for z in zones:  # an edge to clear between the swing foot and its landing
            if z.kind == "rise" and swing_heel < z.a <= land + self._foot + s.margin_m:
                lift = max(lift, s.lift_rad_per_m * z.rise_m)
        drive = float(self._drive[k])
        offset = change / gain
        offset = float(np.clip(offset, -s.max_offset_rad, s.max_shorten_rad)) * drive
        before = (float(self._out[k]), float(self._out[2 + k]))
        self._out[k] = offset
        self._out[2 + k] = min(lift, s.max_lift_rad) * drive
        self._adjusted[k] = bool(change or lift)
        if (why or lift) and before != (float(self._out[k]), float(self._out[2 + k])):
            self.decisions.append(
                {
                    "time_s": time_s,
                    "side": side,
                    "why": why or "clear",
                    "stance_heel_m": stance_heel,
                    "expected_step_m": float(self._model[k]),
                    "land_m": land,
                    "step_change_m": change,
                    "offset_rad": offset,
                    "lift_rad": float(self._out[2 + k]),
                }
            )

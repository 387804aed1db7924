"""A course while it runs: projected elements appear, perturbations act, and the patient's
supraspinal planner sees what lies ahead.

- An obstacle or target *appears* when the leading toe is ``response_time_s`` x the walking
  speed (the belt's on a treadmill, the pelvis's overground) from its near edge: its
  available response time (REFERENCES 7); a ``course_appear`` event marks it. Physical
  elements are in sight from ``SIGHT_M`` ahead.
- Pushes act on the pelvis; a belt-speed change ramps the belt's servo to its new speed
  (an extra force on the belt, so the model is not changed).
- Each control tick the planner (``gaitsim.neural.supraspinal``) gets the feet's heel
  positions along the course and their load, and the zones in sight; its adjustments go to
  the reflex controller as its course inputs.
- :meth:`CourseRunner.touches` says online which projected obstacles a foot has just
  touched, for rewards (``gaitsim.env``); the session's score is ``gaitsim.metrics.course``'s.

``data`` is an ``mujoco.MjData`` or any object with its fields used here (``time``, ``qpos``,
``qvel``, ``geom_xpos``, ``sensordata``, ``qfrc_applied``): a member of a batch
(``gaitsim.env.vector``) is run through row views of the batch's arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.metrics.course import TOUCH_BW
from gaitsim.model.assemble import BELT_SPEED_GAIN, FOOT_VERTICAL_FORCE, BuiltModel
from gaitsim.model.terrain import ground_profile
from gaitsim.neural.reflex import CONTACT_LOAD_BW
from gaitsim.neural.supraspinal import COURSE_INPUTS, Planner, Zone
from gaitsim.sim.sensing import BodyIndex
from gaitsim.sim.trace import Event
from gaitsim.spec import Box, CourseElement, Obstacle, Scenario, Target

#: Physical elements are seen from this far ahead of the leading toe (m).
SIGHT_M = 4.0
#: Half width (m) of the strip about a step edge where no foot may land.
EDGE_M = 0.02
#: A zone stays in the planner's sight until this far (m) behind the rear heel.
BEHIND_M = 0.5
#: Slowest walking speed used to time an element's appearance (m/s).
MIN_SPEED_M_S = 0.3


def pushes_of(scenario: Scenario) -> list[tuple[float, float, tuple[float, float, float]]]:
    """(time, duration, force) of the course's pushes."""
    return [
        (e.at_s, e.duration_s, (e.force_n, 0.0, 0.0))
        for e in scenario.course.elements
        if e.kind == "push"
    ]


def fixed_zones(elements: Sequence[CourseElement]) -> list[Zone]:
    """What the physical course shows the planner, in sight from ``SIGHT_M``: the ground's
    step edges (no foot lands across one), its rising edges (curb up, stair, box: lift the
    swing foot) and the boxes' tops (not to land on)."""
    profile = ground_profile(elements)
    zones: list[Zone] = []
    for prev, nxt in zip(profile[:-1], profile[1:], strict=True):
        if abs(nxt.z0 - prev.z1) > 1e-6:
            zones.append(Zone("avoid", nxt.x0 - EDGE_M, nxt.x0 + EDGE_M))
        if nxt.z0 > prev.z1 + 1e-6:
            zones.append(Zone("rise", nxt.x0, nxt.x0, nxt.z0 - prev.z1))
    for e in elements:
        if isinstance(e, Box):
            zones.append(Zone("avoid", e.at_m, e.at_m + e.length_m))
    return zones


class CourseRunner:
    """Appearance, belt perturbations and the planner's inputs for one run."""

    def __init__(
        self,
        scenario: Scenario,
        built: BuiltModel,
        index: BodyIndex,
    ) -> None:
        course, patient = scenario.course, scenario.patient
        self._elements = course.elements
        self._index = index
        self._belt0 = course.belt_speed_m_s if course.kind == "treadmill" else None
        self._belt_changes = sorted(
            (e.at_s, e.speed_m_s, e.ramp_s) for e in self._elements if e.kind == "belt_speed"
        )
        self._bw = built.mass_kg * C.G_M_S2
        self._projected = [
            (i, e) for i, e in enumerate(self._elements) if isinstance(e, Obstacle | Target)
        ]
        self.appeared: dict[int, float] = {}
        self.touched: set[int] = set()  # projected obstacles touched (online, :meth:`touches`)
        self.events: list[Event] = []
        self._fixed = fixed_zones(self._elements)
        model = built.model
        heel, toe = (model.geom(C.model_name(g, "left")).pos[0] for g in ("heel", "toe"))
        self.planner = Planner(
            built.leg_length_m,
            float(toe - heel),  # heel to toe contact points, as the scoring measures feet
            [patient.drive_of(s) for s in C.SIDES],
            scenario.controller.planner,
        )
        self._planning = scenario.controller.planner.enabled
        self._heels = np.array([index.heel_geom[s] for s in C.SIDES])
        self._toes = np.array([index.toe_geom[s] for s in C.SIDES])
        self._loads = np.array([index.foot_sensor[s] + FOOT_VERTICAL_FORCE for s in C.SIDES])

    def belt_speed_m_s(self, time_s: float) -> float | None:
        """The belt's commanded speed now (None overground)."""
        if self._belt0 is None:
            return None
        speed = self._belt0
        for at, target, ramp in self._belt_changes:
            if time_s >= at:
                frac = 1.0 if ramp <= 0 else min(1.0, (time_s - at) / ramp)
                speed = speed + (target - speed) * frac
        return speed

    def apply(self, data: mujoco.MjData) -> None:
        """The belt servo's extra force towards the commanded speed (force = -gain (v + s))."""
        if self._belt_changes and self._index.belt_dof is not None:
            speed = self.belt_speed_m_s(data.time)
            assert speed is not None and self._belt0 is not None
            data.qfrc_applied[self._index.belt_dof] = -BELT_SPEED_GAIN * (speed - self._belt0)

    def touches(self, data: mujoco.MjData) -> list[int]:
        """The projected obstacles (element indices) a foot touches now for the first time:
        a foot carrying more than the scoring's ``TOUCH_BW`` of body weight whose heel-to-toe
        span overlaps an appeared zone. The online form of the scoring's rule (which also asks
        the contact points' height, and takes a stance's centre of pressure where neither
        point is down): a reward's view, not the session's score."""
        open_ = [
            (i, e)
            for i, e in self._projected
            if i in self.appeared and i not in self.touched and isinstance(e, Obstacle)
        ]
        if not open_:
            return []
        loaded = data.sensordata[self._loads] > TOUCH_BW * self._bw
        if not loaded.any():
            return []
        heel = self._along(data, data.geom_xpos[self._heels, 0])[loaded]
        toe = self._along(data, data.geom_xpos[self._toes, 0])[loaded]
        lo, hi = np.minimum(heel, toe), np.maximum(heel, toe)
        new = [i for i, e in open_ if ((hi >= e.at_m) & (lo <= e.at_m + e.length_m)).any()]
        self.touched.update(new)
        return new

    def _along(self, data: mujoco.MjData, x: np.ndarray) -> np.ndarray:
        belt = self._index.belt_qpos
        return x - data.qpos[belt] if belt is not None else x

    def tick(self, data: mujoco.MjData) -> np.ndarray:
        """Appearances now, and the planner's course inputs (4 floats, float32)."""
        t = float(data.time)
        heel = self._along(data, data.geom_xpos[self._heels, 0])
        toe = float(self._along(data, data.geom_xpos[self._toes, 0]).max())
        speed = self.belt_speed_m_s(t)
        if speed is None:
            speed = float(data.qvel[self._index.dof["pelvis_x"]])
        speed = max(speed, MIN_SPEED_M_S)
        rear = float(heel.min()) - BEHIND_M
        zones = [z for z in self._fixed if z.b >= rear and z.a <= toe + SIGHT_M]
        for i, e in self._projected:
            if i not in self.appeared and e.at_m - toe <= e.response_time_s * speed:
                self.appeared[i] = t
                self.events.append(
                    Event(t, "course_appear", {"element": i, "kind": e.kind, "at_m": e.at_m})
                )
            if i in self.appeared and e.at_m + e.length_m >= rear:
                side = e.side if isinstance(e, Target) else None
                kind = "avoid" if isinstance(e, Obstacle) else "target"
                zones.append(Zone(kind, e.at_m, e.at_m + e.length_m, side=side))
        if not self._planning:
            return np.zeros(sum(n for _, n in COURSE_INPUTS), np.float32)
        loaded = data.sensordata[self._loads] > CONTACT_LOAD_BW * self._bw
        n = len(self.planner.decisions)
        out = self.planner.update(t, heel, loaded, zones)
        for d in self.planner.decisions[n:]:
            self.events.append(Event(d["time_s"], "step_adjust", _rounded(d)))
        return out.astype(np.float32)


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items() if k != "time_s"}

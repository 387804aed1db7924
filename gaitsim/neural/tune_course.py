"""Tuning on course sessions by CMA-ES (Hansen 2006; pycma): the course planner's gains
(``gaitsim tune SCENARIO --planner``, :func:`tune_planner`) or the patient's reflex gains
with the planner steering them (``gaitsim tune SCENARIO --on-course``, :func:`tune_reflex`).

The planner search runs in the unit cube of the planner gains' schema bounds
(``spec.CoursePlanner``) over the step-length gains (step gain, margin, lengthening and
shortening caps, re-planning window) and, when the course has a rising edge (curb up, stair,
box), the swing-lift gains; the patient's reflex gains are fixed: the planner is what a
course adds to a walker.

The reflex search runs in the unit cube of the reflex gains' bounds (one set for both legs,
or one per leg; all 39 gains, or those named), from the scenario's parameter file (or a warm
start), whose initial state and unnamed gains it keeps; the planner's gains are the
scenario's. A walker tuned on flat ground (``gaitsim.neural.tune``) carries out the
planner's step changes as a by-product of its tuning; here it is tuned on what a course
asks of it: Song & Geyer 2015 likewise optimise their reflex gains on the rough terrain and
obstacles they are to negotiate.

Each candidate walks the scenario's session from ``seeds`` run seeds (``first_seed`` on;
the same for every candidate and generation, so candidates are compared on the same
sessions); a generated course is drawn anew from each of those seeds too, so the course the
scenario ships (its own generator seed) stays out of the tuning and checks it. A session
costs

    1 - successes / (judged + not reached) + 0.5 if it ended early (a fall or a blow-up),

successes and judgements as the course scoring defines them (``gaitsim.metrics.course``): an
element the patient never reached because it fell counts as failed, and a fall costs half a
session on top (a clinical session ends with it). The cost of a candidate is the mean over
its sessions. Sessions run in worker processes, one per core.

Every generation is checkpointed (the optimiser's state, pickled for resuming only) and
logged; the best settings so far are written as they improve: a ``[controller.planner]``
table to paste into a scenario, or a reflex parameter file.
"""

from __future__ import annotations

import csv
import multiprocessing
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gaitsim._io import write_text
from gaitsim.neural import controller as rc
from gaitsim.neural import reflex
from gaitsim.neural.tune import Layout, load_checkpoint, save_checkpoint
from gaitsim.spec import CoursePlanner, Scenario, from_dict, to_dict

#: The gains a projected course tunes (step length), and those a rising edge adds (lift).
STEP_FIELDS = ("step_gain", "margin_m", "max_offset_rad", "max_shorten_rad", "replan_s")
LIFT_FIELDS = ("lift_rad_per_m", "max_lift_rad")

#: What a fall costs on top of the elements it left unreached (a fraction of a session).
FALL_COST = 0.5


@dataclass(frozen=True)
class CourseTuneConfig:
    """Settings of one tuning run on course sessions."""

    generations: int = 20
    population: int = 8
    sigma: float = 0.2  # initial step size in the unit cube
    seeds: int = 3  # sessions per candidate
    first_seed: int = 101
    workers: int = 2
    seed: int = 1  # pycma gets seed + 1: its seed 0 means "from the clock"
    symmetric: bool = True  # reflex gains: one set for both legs (the planner search ignores it)
    # reflex gains: the names searched (the others kept at the start's); None: all of them
    gains: tuple[str, ...] | None = None


#: What a resumed run must share with its checkpoint (and its start point, see ``_tune``).
_RESUME_KEYS: tuple[str, ...] = ("population", "seeds", "first_seed", "seed")


def tuned_fields(scenario: Scenario) -> tuple[str, ...]:
    """The planner gains the scenario's course exercises (lift gains only with a rising
    edge to clear, as the planner sees the course)."""
    from gaitsim.sim.course import fixed_zones

    rises = any(z.kind == "rise" for z in fixed_zones(scenario.course.elements))
    return STEP_FIELDS + LIFT_FIELDS if rises else STEP_FIELDS


def _bounds(name: str) -> tuple[float, float]:
    """(lo, hi) of a planner gain, from the schema's own constraints."""
    lo = hi = None
    for m in CoursePlanner.model_fields[name].metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    assert lo is not None and hi is not None, name
    return float(lo), float(hi)


def encode(planner: CoursePlanner, fields: tuple[str, ...]) -> np.ndarray:
    """The gains as a point of the unit cube."""
    return np.array(
        [
            (getattr(planner, f) - lo) / (hi - lo)
            for f, (lo, hi) in zip(fields, map(_bounds, fields), strict=True)
        ]
    )


def decode(x: np.ndarray, fields: tuple[str, ...], base: CoursePlanner) -> CoursePlanner:
    """``base`` with the gains of the unit-cube point ``x``."""
    values = {
        f: float(lo + (hi - lo) * np.clip(v, 0.0, 1.0))
        for f, v, (lo, hi) in zip(fields, x, map(_bounds, fields), strict=True)
    }
    return base.model_copy(update=values)


def session(scenario: Scenario, seed: int) -> dict[str, Any]:
    """One session of ``scenario`` from run seed ``seed`` (a generated course drawn from the
    same seed): its cost and what it scored."""
    from gaitsim.metrics.course import score_course
    from gaitsim.sim.simulation import simulate

    data = to_dict(scenario)
    data["run"]["seed"] = seed
    if data["course"].get("generate") is not None:
        data["course"]["generate"]["seed"] = seed
        data["course"]["elements"] = []
    trace = simulate(from_dict(data))
    score = score_course(trace) or {}
    s = score.get("session", {"judged": 0, "successes": 0, "not_reached": 0})
    total = s["judged"] + s["not_reached"]
    fell = trace.meta["termination"]["reason"] != "completed"
    rate = s["successes"] / total if total else 0.0
    return {
        "seed": seed,
        "cost": 1.0 - rate + FALL_COST * fell,
        "success": rate,
        "fell": fell,
        "simulated_s": float(trace.time_s[-1]),
    }


def with_planner(scenario: Scenario, planner: CoursePlanner) -> Scenario:
    """``scenario`` with ``planner`` as its course planner."""
    return scenario.model_copy(
        update={"controller": scenario.controller.model_copy(update={"planner": planner})}
    )


def _session(args: tuple[dict[str, Any], int]) -> dict[str, Any]:
    scenario, seed = args
    return session(from_dict(scenario), seed)


class _Space(Protocol):
    """What is searched: its start point, a candidate's scenario, and the best's file."""

    name: str  # file prefix of the checkpoint and log
    x0: np.ndarray
    resume_keys: tuple[str, ...]  # the config fields a resumed run must share
    fixed: np.ndarray  # what the search keeps fixed (a resumed run must share it too)

    def candidate(self, x: np.ndarray, index: int) -> Scenario: ...

    def write_best(self, x: np.ndarray, best: dict[str, Any], generation: int) -> None: ...

    def result(self, x: np.ndarray) -> dict[str, Any]: ...


class _PlannerSpace:
    """The planner's gains (:func:`tuned_fields`), written as a ``[controller.planner]``."""

    name = "planner"
    resume_keys = _RESUME_KEYS
    fixed = np.zeros(0)

    def __init__(self, scenario: Scenario, out_path: Path) -> None:
        self._scenario, self._out = scenario, out_path
        self._fields = tuned_fields(scenario)
        self._base = scenario.controller.planner.model_copy(update={"enabled": True})
        self.x0 = encode(self._base, self._fields)

    def _planner(self, x: np.ndarray) -> CoursePlanner:
        return decode(x, self._fields, self._base)

    def candidate(self, x: np.ndarray, index: int) -> Scenario:
        return with_planner(self._scenario, self._planner(x))

    def write_best(self, x: np.ndarray, best: dict[str, Any], generation: int) -> None:
        write_text(
            self._out,
            _header("--planner", self._scenario, best, generation)
            + planner_table(self._planner(x)),
        )

    def result(self, x: np.ndarray) -> dict[str, Any]:
        return {"planner": self._planner(x).model_dump()}


class _ReflexSpace:
    """The reflex gains (one set, or one per leg; all of them or the ``gains`` named) from a
    parameter file whose initial state, and any gain not named, is kept; each candidate's
    gains go to a file of its own in ``work_dir/candidates``."""

    name = "course"
    resume_keys: tuple[str, ...] = (*_RESUME_KEYS, "symmetric", "gains")

    def __init__(
        self,
        scenario: Scenario,
        start: tuple[np.ndarray, np.ndarray],
        symmetric: bool,
        out_path: Path,
        work_dir: Path,
        gains: tuple[str, ...] | None = None,
    ) -> None:
        if symmetric and not np.array_equal(start[0][0], start[0][1]):
            raise ValueError(
                f"{scenario.name}: the start's legs have gains of their own; one set for both "
                "legs would drop the right leg's: tune them per leg (--asymmetric)"
            )
        self._scenario, self._out = scenario, out_path
        self._layout = Layout(symmetric)
        unknown = [g for g in gains or () if g not in reflex.P]
        if unknown or (gains is not None and not gains):
            raise ValueError(
                f"gains: {', '.join(unknown) or 'none named'}: not reflex gains; allowed: "
                + ", ".join(reflex.P)
            )
        self._start = self._layout.encode(*start)  # unit cube: gains, then initial state
        n = len(reflex.P)
        chosen = range(n) if gains is None else sorted({reflex.P[g] for g in gains})
        legs = 1 if symmetric else 2
        self._searched = np.array([leg * n + i for leg in range(legs) for i in chosen], int)
        kept = np.delete(np.arange(legs * n), self._searched)
        # what is kept, not searched: the initial state, then the unit values of the gains
        # not named (none when all are searched)
        self._initial = np.asarray(start[1], float)
        self.fixed = np.concatenate([self._initial, self._start[kept]])
        self.x0 = self._start[self._searched]
        self._gain_names = [reflex.REFLEX_PARAMETERS[i].name for i in chosen]
        self._dir = work_dir / "candidates"  # made once the space is known to be valid
        self._dir.mkdir(parents=True, exist_ok=True)

    def _gains(self, x: np.ndarray) -> np.ndarray:
        unit = self._start.copy()
        unit[self._searched] = x
        return self._layout.decode(unit)[0]

    def candidate(self, x: np.ndarray, index: int) -> Scenario:
        path = rc.save_parameter_file(self._dir / f"c{index}.json", self._gains(x), self._initial)
        return self._scenario.model_copy(
            update={
                "controller": self._scenario.controller.model_copy(
                    update={"parameters": str(path.resolve())}
                )
            }
        )

    def write_best(self, x: np.ndarray, best: dict[str, Any], generation: int) -> None:
        rc.save_parameter_file(
            self._out,
            self._gains(x),
            self._initial,
            description=_header("--on-course", self._scenario, best, generation)[2:].strip(),
            tuning={
                "scenario": self._scenario.name,
                "mode": "on-course",
                "generation": generation,
                "cost": best["cost"],
                "symmetric": self._layout.symmetric,
                "gains": self._gain_names,
                "sessions": best["sessions"],
            },
        )

    def result(self, x: np.ndarray) -> dict[str, Any]:
        return {"reflex": self._gains(x).tolist()}


def tune_planner(
    scenario: Scenario,
    config: CourseTuneConfig,
    out_path: Path,
    work_dir: Path,
    resume: bool = False,
    on_generation: Callable[[int, float], Any] | None = None,
) -> dict[str, Any]:
    """Run CMA-ES on the planner's gains; write the best ``[controller.planner]`` table to
    ``out_path``; return a summary."""
    _need_course(scenario)
    space = _PlannerSpace(scenario, out_path)
    return _tune(space, config, work_dir, resume, on_generation)


def tune_reflex(
    scenario: Scenario,
    config: CourseTuneConfig,
    start: tuple[np.ndarray, np.ndarray],
    out_path: Path,
    work_dir: Path,
    resume: bool = False,
    on_generation: Callable[[int, float], Any] | None = None,
) -> dict[str, Any]:
    """Run CMA-ES on the reflex gains (``start``: the (2, P) gains and initial state to
    start from) on the scenario's course sessions, its planner on; write the best parameter
    file to ``out_path``; return a summary."""
    _need_course(scenario)
    if not scenario.controller.planner.enabled:
        raise ValueError(
            f"{scenario.name}: controller.planner.enabled = false: tuning on the "
            "course needs the planner on"
        )
    space = _ReflexSpace(scenario, start, config.symmetric, out_path, work_dir, config.gains)
    return _tune(space, config, work_dir, resume, on_generation)


def _need_course(scenario: Scenario) -> None:
    if not scenario.course.elements:
        raise ValueError(f"{scenario.name}: the scenario has no course to tune on")


def _tune(
    space: _Space,
    config: CourseTuneConfig,
    work_dir: Path,
    resume: bool,
    on_generation: Callable[[int, float], Any] | None,
) -> dict[str, Any]:
    with warnings.catch_warnings():  # pycma warns at import when matplotlib is absent
        warnings.filterwarnings("ignore", message="Could not import matplotlib")
        import cma

    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = work_dir / f"{space.name}-checkpoint.pkl"
    log_path = work_dir / f"{space.name}-log.csv"
    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    origin = np.concatenate([space.x0, space.fixed])  # the start point, checked on resuming
    if resume and checkpoint.exists():
        saved = load_checkpoint(checkpoint, config, space.resume_keys)
        es, best, generation, wall0 = (saved[k] for k in ("es", "best", "generation", "wall_s"))
        if not np.array_equal(best.get("start", origin), origin):
            raise ValueError(
                f"{checkpoint}: the checkpoint started from other settings (warm start, "
                "initial state or the scenario's planner); resume from the same"
            )
        np.random.set_state(saved["numpy_random"])  # pycma samples from NumPy's global state
    else:
        options = {"bounds": [0.0, 1.0], "popsize": config.population, "verbose": -9}
        es = cma.CMAEvolutionStrategy(space.x0, config.sigma, {**options, "seed": config.seed + 1})
        best = {"cost": np.inf, "x": space.x0, "sessions": [], "start": origin}
        generation, wall0 = 0, 0.0
        with log_path.open("w", newline="") as fh:
            csv.writer(fh).writerow(
                ["generation", "best_cost", "generation_best", "median", "best_success", "wall_s"]
            )
    t0 = time.perf_counter()
    # spawned workers: JAX is not fork-safe once it has started its threads
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(config.workers, mp_context=context) as pool:
        while generation < config.generations:
            xs = [np.asarray(x) for x in es.ask()]
            scenarios = [to_dict(space.candidate(x, i)) for i, x in enumerate(xs)]
            results = list(pool.map(_session, [(d, s) for d in scenarios for s in seeds]))
            per = [results[i * len(seeds) : (i + 1) * len(seeds)] for i in range(len(xs))]
            costs = np.array([np.mean([r["cost"] for r in p]) for p in per])
            es.tell(xs, costs.tolist())
            generation += 1
            k = int(np.argmin(costs))
            if costs[k] < best["cost"]:
                best = {"cost": float(costs[k]), "x": xs[k], "sessions": per[k], "start": origin}
                space.write_best(xs[k], best, generation)
            wall = wall0 + time.perf_counter() - t0
            # checkpoint first: a kill between the two repeats no generation in the log
            save_checkpoint(checkpoint, es, best, generation, wall, config)
            with log_path.open("a", newline="") as fh:
                csv.writer(fh).writerow(
                    [
                        generation,
                        f"{best['cost']:.4f}",
                        f"{costs[k]:.4f}",
                        f"{np.median(costs):.4f}",
                        f"{np.mean([r['success'] for r in best['sessions']]):.4f}",
                        f"{wall:.1f}",
                    ]
                )
            if on_generation is not None:
                on_generation(generation, best["cost"])
    return {
        "generations": generation,
        "best_cost": best["cost"],
        "wall_s": wall0 + time.perf_counter() - t0,
        **space.result(best["x"]),
        "sessions": best["sessions"],
    }


def planner_table(planner: CoursePlanner) -> str:
    """``planner`` as a scenario's ``[controller.planner]`` TOML table (full precision: the
    settings evaluated, not a rounding of them)."""
    lines = ["[controller.planner]"]
    for name, value in planner.model_dump().items():
        lines.append(f"{name} = {str(value).lower() if isinstance(value, bool) else repr(value)}")
    return "\n".join(lines) + "\n"


def _header(flag: str, scenario: Scenario, best: dict, generation: int) -> str:
    """One comment line: what made the file and how the best did on its sessions."""
    success = np.mean([r["success"] for r in best["sessions"]])
    falls = sum(r["fell"] for r in best["sessions"])
    return (
        f"# Tuned by gaitsim tune {flag} on scenario {scenario.name!r}: generation "
        f"{generation}, cost {best['cost']:.4f}, success {success:.3f}, falls "
        f"{falls}/{len(best['sessions'])} (seeds {best['sessions'][0]['seed']}-"
        f"{best['sessions'][-1]['seed']})\n"
    )

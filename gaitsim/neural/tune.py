"""Tuning the reflex controller by CMA-ES (Hansen 2006; pycma) on batched rollouts.

The search runs in the unit cube of the parameters' bounds over the reflex gains (one set
shared by both legs, or one per leg for asymmetric patients) and the initial state (forward
speed and posture), as in Geyer & Herr 2010 and Song & Geyer 2015. The cost follows their
approach and SCONE's gait measures (Geijtenbeek 2019), with walking defined as surviving the
episode at a mean speed of at least v_min = v_target / 2 (SCONE's minimum velocity):

- a member that does not walk costs 500 + 500 * (1 - progress) - 5 * min(distance, 20 m),
  progress = (t_alive / T) * min(1, v / v_min) (400 to 1000): standing still is as bad as
  falling at once, and walking further for longer is better;
- a walker costs 100 * (v - v_target)^2 (speed tracking)
  + 10 * effort per metre (integral of mean cubed activation, Ackermann & van den Bogert 2010)
  + optionally ``metabolic_weight`` x Umberger 2003's activation-maintenance heat per kg and
  metre (the bulk of the metabolic cost of transport; the cubed-activation term alone lets
  co-contraction through)
  + 100 * joint-limit intrusion + 50 * ground reaction above 1.5 body weights (BW s)
  + 100 * max(0, 0.2 - f_swing) / 0.2, f_swing the smaller fraction of time a foot is off the
  ground: both feet must take steps (a foot that only drags is not walking; normal swing is
  about 40 % of the cycle, Perry & Burnfield 2010)
  + 100 * max(0, r_min - r) / r_min, r the shorter mean step length over the longer (0 when
  the shorter is not positive): each foot must land ahead of the other. Without it the
  optimiser found "step-to" gaits where the paretic foot lands level with or behind the other
  at 170 steps/min; hemiparetic patients keep a step-length ratio of about 1-2 (Patterson
  et al. 2008, Arch Phys Med Rehabil 89:304 [memory]), so r_min = 0.5 by default,
  + with ``step_adjust_rad`` (``gaitsim tune --step-adjust``), for courses: every other swing
  on average gets a random target-leg-angle offset (``sim.batch.StepAdjustments``, the
  course planner's command), and the walker pays 1 per cm of its steps' scatter about its
  own linear model of step length on offset (the forward model the planner fits) and up to
  10 as that model's gain falls below 0.8 m/rad (a walker deaf to the offsets): a planner
  can only place the feet as precisely as the steps follow its offsets,
  capped at 399, so any walker beats any non-walker (survival first, as in Geyer & Herr 2010).

Every generation is checkpointed (the optimiser's state, pickled for resuming only) and logged;
the best parameters so far are written to the output file as they improve.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import pickle
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaitsim._io import atomic_path
from gaitsim.model import build_scenario
from gaitsim.model.impairment import toward_healthy
from gaitsim.neural import controller as rc
from gaitsim.neural import reflex
from gaitsim.neural.parameters import from_unit, mapping_from_vector, to_unit
from gaitsim.sim.batch import RolloutResult, StepAdjustments, TorqueNoise, rollout
from gaitsim.sim.initial import gait_state, perturbed
from gaitsim.sim.sensing import body_index
from gaitsim.spec import Scenario

SURVIVOR_COST_CAP = 399.0
MIN_SWING_FRACTION = 0.2
MIN_STEP_RATIO = 0.5
#: The least step change per radian of leg-angle offset a walker tuned for courses must show
#: (m/rad): the planner's prior is L sin(c0) / 0.8 = 1.09 for the healthy preset.
MIN_PLACEMENT_GAIN_M_RAD = 0.8


@dataclass(frozen=True)
class TuneConfig:
    """Settings of one tuning run."""

    generations: int = 200
    population: int = 16
    sigma: float = 0.1  # initial step size in the unit cube
    duration_s: float = 10.0
    target_speed_m_s: float = 1.25
    symmetric: bool = True  # one gain set for both legs (healthy); False for asymmetric patients
    seed: int = 1  # pycma gets seed + 1: its seed 0 means "from the clock"
    nthread: int = 2
    #: robustness: each candidate also walks from this many perturbed initial states (seeded
    #: per generation; angle std in rad, speed std in m/s) and its cost is the mean
    perturbed_starts: int = 0
    angle_noise_rad: float = 0.03
    speed_noise_m_s: float = 0.1
    #: the shorter mean step length must be at least this fraction of the longer (0: no check)
    min_step_ratio: float = MIN_STEP_RATIO
    #: robustness: random torques on the leg joints (N m std; 0: none), see TorqueNoise
    torque_noise_nm: float = 0.0
    #: weight of the activation heat per kg and metre (J/(kg m)) in the cost (0: none)
    metabolic_weight: float = 0.0
    #: for courses: random step adjustments up to this leg-angle offset (rad; 0: none), see
    #: StepAdjustments, and the weight of the placement terms they add to the cost
    step_adjust_rad: float = 0.0
    placement_weight: float = 1.0
    #: stop early once the best candidate walks (cost below SURVIVOR_COST_CAP) and at least
    #: this many generations have run (curriculum stages); None: run every generation
    stop_walking_after: int | None = None


def cost(
    r: RolloutResult,
    duration_s: float,
    target_speed_m_s: float,
    min_step_ratio: float = MIN_STEP_RATIO,
    metabolic_weight: float = 0.0,
    mass_kg: float = 1.0,
    placement_weight: float = 1.0,
) -> np.ndarray:
    """Cost per member (lower is better); see the module docstring."""
    v_min = 0.5 * target_speed_m_s
    mean_speed = r.distance_m / np.maximum(r.alive_s, 1e-9)
    progress = (r.alive_s / duration_s) * np.clip(mean_speed / v_min, 0.0, 1.0)
    fail = 500 + 500 * (1 - progress) - 5 * np.clip(r.distance_m, 0, 20)
    per_m = r.effort / np.maximum(r.distance_m, 0.1)
    walk = (
        100 * (r.speed_m_s - target_speed_m_s) ** 2
        + 10 * per_m
        + 100 * r.limit_penalty
        + 50 * r.grf_spike
        + 100 * np.maximum(MIN_SWING_FRACTION - r.swing_fraction, 0) / MIN_SWING_FRACTION
        + _step_penalty(r.step_length_m, min_step_ratio)
        + metabolic_weight * r.activation_heat_j / mass_kg / np.maximum(r.distance_m, 0.1)
        + placement_weight * _placement_penalty(r)
    )
    walking = ~r.fell & (mean_speed >= v_min)
    out = np.where(walking, np.minimum(walk, SURVIVOR_COST_CAP), fail)
    return np.where(np.isfinite(out), out, 1000.0)


def _placement_penalty(r: RolloutResult) -> np.ndarray:
    """With step adjustments: 1 per cm of the steps' scatter about the member's own linear
    model of step on offset, plus up to 10 as the model's gain falls below
    MIN_PLACEMENT_GAIN_M_RAD (a walker that ignores the offsets cannot adjust a step); an
    unfitted member (too few steps) counts 20 cm of scatter."""
    if r.placement_sd_m is None or r.placement_gain_m_rad is None:
        return np.zeros(len(r.alive_s))
    sd = np.nan_to_num(r.placement_sd_m, nan=0.2)
    gain = np.nan_to_num(np.abs(r.placement_gain_m_rad), nan=0.0)
    weak = np.maximum(MIN_PLACEMENT_GAIN_M_RAD - gain, 0) / MIN_PLACEMENT_GAIN_M_RAD
    return 100 * sd + 10 * weak


def _step_penalty(step_length_m: np.ndarray, min_ratio: float) -> np.ndarray:
    """0 to 100: how far the shorter mean step falls below ``min_ratio`` of the longer."""
    if min_ratio <= 0:
        return np.zeros(len(step_length_m))
    steps = np.nan_to_num(step_length_m, nan=0.0)
    longer = np.maximum(steps.max(axis=1), 1e-9)
    ratio = np.clip(steps.min(axis=1) / longer, 0.0, 1.0)
    return 100 * np.maximum(min_ratio - ratio, 0) / min_ratio


@dataclass(frozen=True)
class Layout:
    """How a search vector maps to (reflex left/right, initial state)."""

    symmetric: bool

    @property
    def size(self) -> int:
        n = len(reflex.REFLEX_PARAMETERS)
        return (n if self.symmetric else 2 * n) + len(rc.INITIAL_STATE)

    def encode(self, reflex_lr: np.ndarray, initial: np.ndarray) -> np.ndarray:
        gains = [to_unit(reflex.REFLEX_PARAMETERS, g) for g in reflex_lr]
        parts = gains[:1] if self.symmetric else gains
        return np.concatenate([*parts, to_unit(rc.INITIAL_STATE, initial)])

    def decode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(reflex.REFLEX_PARAMETERS)
        left = from_unit(reflex.REFLEX_PARAMETERS, x[:n])
        right = left if self.symmetric else from_unit(reflex.REFLEX_PARAMETERS, x[n : 2 * n])
        initial = from_unit(rc.INITIAL_STATE, x[-len(rc.INITIAL_STATE) :])
        return np.stack([left, right]), initial


def evaluate(
    scenario: Scenario,
    built: Any,
    candidates: list[tuple[np.ndarray, np.ndarray]],
    config: TuneConfig,
    generation: int = 0,
) -> tuple[np.ndarray, RolloutResult]:
    """Costs of (reflex_lr, initial) candidates, simulated as one batch.

    With ``config.perturbed_starts`` = K, every candidate runs K + 1 times (its own initial
    state, then K perturbed copies drawn from a generation-seeded generator, the same for all
    candidates) and gets the mean cost; the result returned is that of the unperturbed runs.
    """
    index = body_index(built.model)
    k = config.perturbed_starts + 1
    rng = np.random.default_rng([config.seed, generation])
    zero = {p.name: 0.0 for p in rc.INITIAL_STATE}
    offsets = [np.zeros(len(zero))] + [
        np.array(
            list(perturbed(zero, config.angle_noise_rad, config.speed_noise_m_s, rng).values())
        )
        for _ in range(config.perturbed_starts)
    ]
    runs = [(g, i + off) for g, i in candidates for off in offsets]
    rate = scenario.controller.rate_hz
    controllers = [rc.reflex_controller(scenario.patient, g, rate) for g, _ in runs]
    states = [
        gait_state(built.model, index, mapping_from_vector(rc.INITIAL_STATE, i)) for _, i in runs
    ]
    run = scenario.run
    result = rollout(
        built,
        controllers,
        np.stack([q for q, _ in states]),
        np.stack([v for _, v in states]),
        config.duration_s,
        run.fall_pelvis_height_fraction,
        run.fall_trunk_pitch_rad,
        config.nthread,
        TorqueNoise(config.torque_noise_nm, seed=config.seed * 100_003 + generation)
        if config.torque_noise_nm > 0
        else None,
        StepAdjustments(config.step_adjust_rad, seed=config.seed * 100_019 + generation, streams=k)
        if config.step_adjust_rad > 0
        else None,
    )
    costs = cost(
        result,
        config.duration_s,
        config.target_speed_m_s,
        config.min_step_ratio,
        config.metabolic_weight,
        built.mass_kg,
        config.placement_weight,
    )
    costs = costs.reshape(-1, k).mean(axis=1)
    own: dict[str, Any] = {}  # each candidate's own start: every k-th member
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        own[f.name] = None if value is None else np.asarray(value)[::k]
    unperturbed = RolloutResult(**own)
    return costs, unperturbed


def tune(
    scenario: Scenario,
    config: TuneConfig,
    start: tuple[np.ndarray, np.ndarray],
    out_path: Path,
    work_dir: Path,
    resume: bool = False,
    on_generation: Callable[[int, float], Any] | None = None,
) -> dict[str, Any]:
    """Run CMA-ES; write the best parameters to ``out_path``; return a summary."""
    with warnings.catch_warnings():  # pycma warns at import when matplotlib is absent
        warnings.filterwarnings("ignore", message="Could not import matplotlib")
        import cma

    layout = Layout(config.symmetric)
    built = build_scenario(scenario)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint, log_path = work_dir / "checkpoint.pkl", work_dir / "log.csv"
    if resume and checkpoint.exists():
        saved = load_checkpoint(checkpoint, config, _RESUME_KEYS)
        es, best, generation, wall0 = (
            saved["es"],
            saved["best"],
            saved["generation"],
            saved["wall_s"],
        )
        np.random.set_state(saved["numpy_random"])  # pycma samples from NumPy's global state
    else:
        x0 = np.clip(layout.encode(*start), 0.0, 1.0)
        es = cma.CMAEvolutionStrategy(
            x0,
            config.sigma,
            {
                "bounds": [0.0, 1.0],
                "popsize": config.population,
                "seed": config.seed + 1,
                "verbose": -9,
            },
        )
        best, generation, wall0 = {"cost": np.inf, "x": x0, "result": None}, 0, 0.0
        with log_path.open("w", newline="") as fh:
            csv.writer(fh).writerow(
                [
                    "generation",
                    "best_cost",
                    "generation_best",
                    "median",
                    "best_alive_s",
                    "best_distance_m",
                    "best_speed_m_s",
                    "wall_s",
                ]
            )
    t0 = time.perf_counter()
    while generation < config.generations:
        xs = es.ask()
        costs, result = evaluate(
            scenario, built, [layout.decode(np.asarray(x)) for x in xs], config, generation
        )
        es.tell(xs, costs.tolist())
        generation += 1
        k = int(np.argmin(costs))
        if costs[k] < best["cost"]:
            best = {
                "cost": float(costs[k]),
                "x": np.asarray(xs[k]),
                "result": _summary(result, k),
            }
            _write_best(out_path, layout, best, scenario, config, generation)
        wall = wall0 + time.perf_counter() - t0
        # checkpoint first: a kill between the two repeats no generation in the log
        save_checkpoint(checkpoint, es, best, generation, wall, config)
        with log_path.open("a", newline="") as fh:
            r = best["result"] or {}
            csv.writer(fh).writerow(
                [
                    generation,
                    f"{best['cost']:.4f}",
                    f"{costs[k]:.4f}",
                    f"{np.median(costs):.4f}",
                    r.get("alive_s"),
                    r.get("distance_m"),
                    r.get("speed_m_s"),
                    f"{wall:.1f}",
                ]
            )
        if on_generation is not None:
            on_generation(generation, best["cost"])
        if (
            config.stop_walking_after is not None
            and generation >= config.stop_walking_after
            and best["cost"] < SURVIVOR_COST_CAP
        ):
            break
    return {
        "generations": generation,
        "best_cost": best["cost"],
        "wall_s": wall0 + time.perf_counter() - t0,
        "best": best["result"],
    }


def tune_curriculum(
    scenario: Scenario,
    config: TuneConfig,
    start: tuple[np.ndarray, np.ndarray],
    out_path: Path,
    work_dir: Path,
    stages: int,
    resume: bool = False,
    on_generation: Callable[[int, int, float], Any] | None = None,
    stage_generations: int = 20,
) -> dict[str, Any]:
    """Tune through ``stages`` patients of growing impairment, each warm-started from the last.

    Stage k of N tunes the patient with its impairment at k/N of its size
    (:func:`gaitsim.model.impairment.toward_healthy`); the stages before the last stop once
    their best walks after at least ``stage_generations`` generations (or at
    ``config.generations``), the last runs ``config.generations``. Stage k keeps its checkpoint,
    log and best parameters in ``work_dir/stage-k``; the last writes ``out_path``. With
    ``resume``, finished stages before the last are skipped and the others continue.
    ``on_generation`` gets (stage, generation, best cost).
    """
    if stages < 1:
        raise ValueError(f"stages = {stages}: must be at least 1")
    summaries = []
    for k in range(1, stages + 1):
        final = k == stages
        stage_dir = work_dir / f"stage-{k}"
        stage_out = out_path if final else stage_dir / "best.json"
        done = stage_dir / "done"
        if resume and done.exists() and not final:  # the last stage may run on
            summaries.append(json.loads(done.read_text()))
        else:
            stage = scenario.model_copy(
                update={
                    "patient": toward_healthy(scenario.patient, k / stages),
                    "name": scenario.name if final else f"{scenario.name}@{k}/{stages}",
                }
            )
            stage_config = (
                config
                if final
                else dataclasses.replace(config, stop_walking_after=stage_generations)
            )
            report = None if on_generation is None else functools.partial(on_generation, k)
            summary = tune(stage, stage_config, start, stage_out, stage_dir, resume, report)
            summaries.append({"stage": k, **summary})
            done.write_text(json.dumps(summaries[-1]) + "\n")
        reflex_lr, initial, _ = rc.load_parameter_file(stage_out)
        start = (reflex_lr, initial)
    return {
        "stages": summaries,
        "generations": sum(s["generations"] for s in summaries),
        "best_cost": summaries[-1]["best_cost"],
        "wall_s": sum(s["wall_s"] for s in summaries),
        "best": summaries[-1]["best"],
    }


#: Settings a resumed run must share with its checkpoint (the search space and its cost).
_RESUME_KEYS = (
    "population",
    "duration_s",
    "target_speed_m_s",
    "symmetric",
    "perturbed_starts",
    "min_step_ratio",
    "torque_noise_nm",
    "metabolic_weight",
    "step_adjust_rad",
    "placement_weight",
)


def save_checkpoint(
    path: Path, es: Any, best: dict[str, Any], generation: int, wall_s: float, config: Any
) -> None:
    """Pickle the optimiser's state atomically (resuming only; never a parameter file): the
    CMA-ES object, the best so far, the generation, the wall time, NumPy's global random
    state (pycma samples from it) and ``config`` (a dataclass, checked on resuming)."""
    payload = {
        "es": es,
        "best": best,
        "generation": generation,
        "wall_s": wall_s,
        "numpy_random": np.random.get_state(),
        "config": dataclasses.asdict(config),
    }
    with atomic_path(path) as tmp:
        tmp.write_bytes(pickle.dumps(payload))


def load_checkpoint(path: Path, config: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """A checkpoint :func:`save_checkpoint` wrote, refused (naming what differs) when its
    ``config`` (a dataclass) differs from ``config`` in one of ``keys``."""
    try:
        saved = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"{path}: cannot resume from this checkpoint: {exc}") from None
    now = dataclasses.asdict(config)
    changed = [k for k in keys if saved.get("config", {}).get(k) != now[k]]
    if changed:
        was = ", ".join(f"{k}={saved['config'].get(k)!r}" for k in changed)
        raise ValueError(f"{path}: the checkpoint was made with {was}; resume with the same")
    return saved


def _summary(result: RolloutResult, k: int) -> dict[str, float]:
    """What candidate ``k``'s own (unperturbed) run did, for the log and the file."""
    out = {
        f: float(getattr(result, f)[k]) for f in ("alive_s", "distance_m", "speed_m_s", "effort")
    }
    if result.placement_sd_m is not None and result.placement_gain_m_rad is not None:
        out["placement_sd_m"] = float(result.placement_sd_m[k])
        out["placement_gain_m_rad"] = float(result.placement_gain_m_rad[k])
    return out


def _write_best(
    out_path: Path,
    layout: Layout,
    best: dict,
    scenario: Scenario,
    config: TuneConfig,
    generation: int,
) -> None:
    reflex_lr, initial = layout.decode(best["x"])
    rc.save_parameter_file(
        out_path,
        reflex_lr,
        initial,
        description=f"Tuned by gaitsim tune on scenario {scenario.name!r}",
        tuning={
            "scenario": scenario.name,
            "generation": generation,
            "cost": best["cost"],
            "duration_s": config.duration_s,
            "target_speed_m_s": config.target_speed_m_s,
            "population": config.population,
            "symmetric": config.symmetric,
            "min_step_ratio": config.min_step_ratio,
            "perturbed_starts": config.perturbed_starts,
            "torque_noise_nm": config.torque_noise_nm,
            "step_adjust_rad": config.step_adjust_rad,
            "result": best["result"],
        },
    )

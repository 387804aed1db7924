"""The same patient and seeds under several device controllers, and without the device.

Every condition runs the scenario's patient (its neural controller and parameters) from the
same seeded, perturbed initial states; a condition changes only the device controller, or
takes the device off (``NO_DEVICE``). Per condition: falls, and the mean over seeds (falls
included, up to the fall) of the clinical and energetic metrics of :data:`METRICS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaitsim.catalogue import catalogue_dir
from gaitsim.control.devices import fits, load_config
from gaitsim.metrics import summarize
from gaitsim.metrics.summary import GaitSummary
from gaitsim.sim.initial import ANGLE_NOISE_RAD, SPEED_NOISE_M_S
from gaitsim.sim.simulation import simulate
from gaitsim.spec import Scenario

NO_DEVICE = "no-device"

#: (key, label, unit) of the compared metrics; sided ones per side.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("speed_m_s", "speed", "m/s"),
    ("cadence_steps_min", "cadence", "steps/min"),
    ("step_length_m", "step length", "m"),
    ("step_symmetry", "step length symmetry ratio", ""),
    ("swing_symmetry", "swing time symmetry ratio", ""),
    ("knee_flexion_deg", "peak knee flexion in swing", "deg"),
    ("toe_clearance_m", "min toe clearance", "m"),
    ("metabolic_w_kg", "metabolic rate, net", "W/kg"),
    ("cost_of_transport", "cost of transport, net", "J/kg/m"),
    ("device_work_j", "device work, positive", "J"),
    ("device_negative_work_j", "device work, negative", "J"),
    ("peak_interaction_nm", "peak interaction torque", "N m"),
)
SIDED = {"step_length_m", "knee_flexion_deg", "toe_clearance_m"}


@dataclass(frozen=True)
class Condition:
    """A compared condition: a device-controller configuration, or no device."""

    name: str
    scenario: Scenario


def default_controllers(scenario: Scenario) -> list[str]:
    """Every shipped device-controller configuration that fits the scenario's device."""
    if scenario.device.kind == "none":
        return []
    names = sorted(p.stem for p in catalogue_dir("controllers").glob("*.toml"))
    return [n for n in names if fits(load_config(n, _settings(scenario, n)), scenario.device)]


def _settings(scenario: Scenario, controller: str) -> dict:
    """The scenario's controller settings belong to its own controller, not to the others."""
    own = controller == scenario.device.controller
    return dict(scenario.device.controller_settings) if own else {}


def conditions(scenario: Scenario, controllers: Sequence[str]) -> list[Condition]:
    """No device first, then the scenario under each device controller."""
    bare = scenario.model_copy(
        update={"device": scenario.device.model_copy(update={"kind": "none", "modules": ()})}
    )
    out = [Condition(NO_DEVICE, bare)]
    for name in controllers:
        device = scenario.device.model_copy(
            update={"controller": name, "controller_settings": _settings(scenario, name)}
        )
        # a configuration given as a path is named by its file's stem
        label = Path(name).stem if name.endswith(".toml") else name
        out.append(Condition(label, scenario.model_copy(update={"device": device})))
    return out


def metrics_row(summary: GaitSummary, fell: bool) -> dict[str, Any]:
    """The compared metrics (:data:`METRICS`) of one run's summary."""
    d = summary.to_dict()
    device = d["device"] or {}
    met = d["metabolic"] or {}
    return {
        "fell": fell,
        "speed_m_s": d["speed_m_s"],
        "cadence_steps_min": d["cadence_steps_min"],
        "step_length_m": d["step_length_m"],
        "step_symmetry": d["symmetry"]["step_length_m"]["ratio"],
        "swing_symmetry": d["symmetry"]["swing_time_s"]["ratio"],
        "knee_flexion_deg": d["peak_knee_flexion_swing_deg"],
        "toe_clearance_m": d["min_toe_clearance_m"],
        "metabolic_w_kg": met.get("net_w_kg"),
        "cost_of_transport": met.get("cost_of_transport_j_kg_m"),
        "device_work_j": sum(m["positive_work_j"] for m in device.values()) if device else None,
        "device_negative_work_j": (
            sum(m["negative_work_j"] for m in device.values()) if device else None
        ),
        "peak_interaction_nm": (
            max(m["peak_interaction_nm"] for m in device.values()) if device else None
        ),
    }


def _mean(values: list[Any]) -> float | None:
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"falls": sum(r["fell"] for r in rows), "runs": len(rows)}
    for key, _, _ in METRICS:
        if key in SIDED:
            out[key] = {s: _mean([r[key][s] for r in rows]) for s in ("left", "right")}
        else:
            out[key] = _mean([r[key] for r in rows])
    return out


def compare(
    scenario: Scenario,
    controllers: Sequence[str],
    seeds: Sequence[int],
    duration_s: float,
    progress: Callable[[str, int], Any] | None = None,
) -> dict[str, Any]:
    """Run every condition from every seed; per condition the per-seed rows and their means."""
    run = scenario.run.model_copy(
        update={
            "duration_s": duration_s,
            "initial_angle_noise_rad": ANGLE_NOISE_RAD,
            "initial_speed_noise_m_s": SPEED_NOISE_M_S,
        }
    )
    out: dict[str, Any] = {
        "scenario": scenario.name,
        "seeds": list(seeds),
        "duration_s": duration_s,
        "conditions": {},
    }
    for condition in conditions(scenario.model_copy(update={"run": run}), controllers):
        rows = []
        for seed in seeds:
            trace = simulate(condition.scenario, seed=seed)
            fell = trace.meta["termination"]["reason"] != "completed"
            rows.append({"seed": seed, **metrics_row(summarize(trace), fell)})
            if progress is not None:
                progress(condition.name, seed)
        out["conditions"][condition.name] = {"mean": _aggregate(rows), "runs": rows}
    return out


def format_comparison(result: dict[str, Any]) -> str:
    """The comparison as a text table: a row per metric (per side), a column per condition."""
    names = list(result["conditions"])
    means = [result["conditions"][n]["mean"] for n in names]
    width = max(12, *(len(n) + 2 for n in names))
    header = f"{'metric':<42}" + "".join(f"{n:>{width}}" for n in names)
    lines = [header, "-" * len(header)]
    falls = [f"{m['falls']}/{m['runs']}" for m in means]
    lines.append(f"{'falls':<42}" + "".join(f"{f:>{width}}" for f in falls))
    for key, label, unit in METRICS:
        unit = f" ({unit})" if unit else ""
        sides = ("left", "right") if key in SIDED else (None,)
        for side in sides:
            name = f"{label}{unit}" + (f", {side}" if side else "")
            cells = []
            for m in means:
                v = m[key][side] if side else m[key]
                cells.append("-" if v is None else f"{v:.3f}")
            lines.append(f"{name:<42}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)

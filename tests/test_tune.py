"""Tuning: the cost ranks walking above everything else; runs checkpoint, log and resume."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from gaitsim import spec
from gaitsim.neural import controller as rc
from gaitsim.neural.tune import TuneConfig, cost, tune
from gaitsim.sim.batch import RolloutResult


def _result(
    alive, fell, distance, speed, effort=1.0, limit=0.0, spike=0.0, swing=0.4
) -> RolloutResult:
    n = len(alive)

    def arr(v):
        return np.broadcast_to(np.asarray(v, dtype=float), (n,))

    return RolloutResult(
        arr(alive),
        np.array(fell),
        arr(distance),
        arr(speed),
        arr(effort),
        arr(limit),
        arr(spike),
        arr(swing),
    )


def test_any_walker_beats_any_non_walker_and_further_is_better():
    r = _result(
        alive=(10, 10, 10, 9.9, 2.0),
        fell=(False, False, False, True, True),
        distance=(12.5, 7.0, 0.2, 12.0, 1.0),
        speed=(1.25, 0.7, 0.02, 1.2, 0.5),
        effort=(2.0, 50.0, 0.5, 2.0, 0.5),
        spike=(0.0, 100.0, 0.0, 0.0, 0.0),
    )
    c = cost(r, duration_s=10.0, target_speed_m_s=1.25)
    walker, slow_but_costly, stander, late_fall, early_fall = c
    assert walker < slow_but_costly < 400 <= late_fall < stander
    assert late_fall < early_fall
    assert stander > 950  # standing still is almost no progress


def test_a_walker_whose_foot_never_leaves_the_ground_pays_for_it():
    base = dict(alive=(10, 10), fell=(False, False), distance=(12, 12), speed=(1.2, 1.2))
    stepping, dragging = cost(_result(**base, swing=(0.4, 0.0)), 10.0, 1.25)
    assert dragging > stepping + 90


def test_a_short_tuning_run_logs_checkpoints_resumes_and_writes_a_loadable_file(tmp_path):
    sc = spec.from_dict({"name": "t", "controller": {"kind": "reflex"}})
    config = TuneConfig(generations=2, population=4, duration_s=0.3, sigma=0.05)
    start = rc.nominal_parameters()
    out, work = tmp_path / "best.json", tmp_path / "work"
    summary = tune(sc, config, start, out, work)
    assert summary["generations"] == 2 and np.isfinite(summary["best_cost"])
    rows = list(csv.DictReader((work / "log.csv").open()))
    assert [int(r["generation"]) for r in rows] == [1, 2]
    gains, initial, doc = rc.load_parameter_file(out)
    assert gains.shape == (2, len(start[0][0])) and doc["tuning"]["population"] == 4
    resumed = tune(
        sc,
        TuneConfig(generations=3, population=4, duration_s=0.3, sigma=0.05),
        start,
        out,
        work,
        resume=True,
    )
    assert resumed["generations"] == 3
    assert [int(r["generation"]) for r in csv.DictReader((work / "log.csv").open())] == [1, 2, 3]
    with pytest.raises(ValueError, match="population=4"):
        tune(
            sc,
            TuneConfig(generations=4, population=6, duration_s=0.3),
            start,
            out,
            work,
            resume=True,
        )

"""Walking patient with the reflex controller in the loop: speed against raw mj_step.

Prints, measured in one run on the same model (the default patient, 0.5 ms physics step):
- XLA's flop estimate of the compiled controller step (1000 or more: a thread hand-off per call);
- the raw ``mujoco.mj_step`` rate (steps/s) with fixed controls;
- one patient walking under ``simulate`` with its controller at its 200 Hz (recording at 10 Hz):
  its step rate, its ratio to raw mj_step, and simulated seconds per wall-clock second;
- a batch of 64 on 2 threads (``gaitsim.sim.batch.rollout``) against a Python loop over the
  same 64 single simulations.

Usage: python benchmarks/walking_speed.py [PARAMETER_FILE] [SECONDS]
(default: controllers/healthy.json if present, else nominal.json; 10 s).
"""

from __future__ import annotations

import sys
import time

import mujoco
import numpy as np

from gaitsim import spec
from gaitsim.catalogue import catalogue_dir
from gaitsim.control.loop import compile_for_loop, step_flops
from gaitsim.model import build_scenario
from gaitsim.neural import controller as rc
from gaitsim.neural.parameters import mapping_from_vector
from gaitsim.sim.batch import rollout
from gaitsim.sim.initial import gait_state
from gaitsim.sim.sensing import body_index
from gaitsim.sim.simulation import simulate


def main(parameters: str, seconds: float) -> None:
    sc = spec.from_dict(
        {
            "controller": {"kind": "reflex", "parameters": parameters},
            "run": {"duration_s": seconds, "record_rate_hz": 10.0},
        }
    )
    built = build_scenario(sc)
    gains, initial, _ = rc.load_parameter_file(rc.resolve_parameter_file(parameters))
    q0, v0 = gait_state(
        built.model, body_index(built.model), mapping_from_vector(rc.INITIAL_STATE, initial)
    )
    dt = built.model.opt.timestep

    simulate(sc, built=built)  # compile the controller once
    t0 = time.perf_counter()
    trace = simulate(sc, built=built)
    wall_single = time.perf_counter() - t0
    sim_s = float(trace.meta["termination"]["time_s"])
    steps = round(sim_s / dt)

    data = mujoco.MjData(built.model)
    data.qpos[:], data.qvel[:] = q0, v0
    data.ctrl[:] = 0.05
    t0 = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(built.model, data)
    raw_rate = steps / (time.perf_counter() - t0)
    single_rate = steps / wall_single

    flops = step_flops(
        compile_for_loop(rc.reflex_controller(sc.patient, gains, sc.controller.rate_hz), sc)
    )
    print(f"one patient: {sim_s:.2f} s simulated, ended: {trace.meta['termination']['reason']}")
    print(
        f"  compiled controller step    {flops:10.0f} flops (XLA: >= 1000 runs on its thread pool)"
    )
    print(f"  raw mj_step                 {raw_rate:10.0f} steps/s")
    print(
        f"  simulate + controller       {single_rate:10.0f} steps/s  "
        f"ratio {single_rate / raw_rate:.2f} (target >= 0.6)  "
        f"{sim_s / wall_single:.1f} x real time (target >= 20)"
    )

    n, horizon = 64, min(seconds, 2.0)
    ctrls = [rc.reflex_controller(sc.patient, gains, sc.controller.rate_hz)] * n
    qs, vs = np.tile(q0, (n, 1)), np.tile(v0, (n, 1))
    rollout(built, ctrls, qs, vs, 0.01)  # compile for this batch size (jit is per shape)
    t0 = time.perf_counter()
    result = rollout(built, ctrls, qs, vs, horizon, nthread=2)
    wall_batch = time.perf_counter() - t0
    short = sc.model_copy(update={"run": sc.run.model_copy(update={"duration_s": horizon})})
    t0 = time.perf_counter()
    for _ in range(n):
        simulate(short, built=built)
    wall_loop = time.perf_counter() - t0
    print(f"batch of {n} x {horizon:g} s ({int(result.fell.sum())} fell):")
    print(f"  rollout, 2 threads          {n * horizon / wall_batch:10.1f} simulated s / s")
    print(f"  Python loop of simulate()   {n * horizon / wall_loop:10.1f} simulated s / s")
    print(f"  speed-up                    {wall_loop / wall_batch:10.2f} x (target >= 1.8)")


if __name__ == "__main__":
    default = (
        "healthy.json"
        if (catalogue_dir("controllers") / "healthy.json").exists()
        else "nominal.json"
    )
    main(
        sys.argv[1] if len(sys.argv) > 1 else default,
        float(sys.argv[2]) if len(sys.argv) > 2 else 10.0,
    )

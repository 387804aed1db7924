"""Simulation core overhead: gaitsim.simulate() against a bare mujoco.mj_step loop.

Both run the default patient's model, standing under the same constant excitation (the
``constant`` controller), for the same number of physics steps; ``simulate`` also checks for
falls and records at 200 Hz, the bare loop does nothing else. Prints steps/s of each and their
ratio, measured in one run. The walking patient with its reflex controller:
``benchmarks/walking_speed.py``. Usage: python benchmarks/sim_speed.py [duration_s]
"""

from __future__ import annotations

import sys
import time

import mujoco

from gaitsim import catalogue, spec
from gaitsim.model import build_scenario
from gaitsim.sim.simulation import simulate


def main(duration_s: float = 2.0) -> None:
    patient = spec.load(catalogue.resolve_scenario("default")).patient
    # a long stand-still run: the fall threshold is relaxed so both loops do the same steps
    sc = spec.from_dict(
        {
            "patient": spec.to_dict(spec.Scenario(patient=patient))["patient"],
            "controller": {"kind": "constant", "excitation": 0.05},
            "run": {
                "duration_s": duration_s,
                "record_rate_hz": 200.0,
                "fall_pelvis_height_fraction": 1e-6,
                "fall_trunk_pitch_rad": 3.14,
            },
        }
    )
    built = build_scenario(sc)
    n = round(duration_s / sc.run.physics_step_s)

    simulate(sc, built=built)  # warm-up: JIT compile of the controller
    t0 = time.perf_counter()
    trace = simulate(sc, built=built)
    t_sim = time.perf_counter() - t0
    steps_sim = round(trace.meta["termination"]["time_s"] / sc.run.physics_step_s)

    data = mujoco.MjData(built.model)
    data.ctrl[:] = sc.controller.excitation
    t0 = time.perf_counter()
    for _ in range(steps_sim):
        mujoco.mj_step(built.model, data)
    t_raw = time.perf_counter() - t0

    rate_sim, rate_raw = steps_sim / t_sim, steps_sim / t_raw
    end = trace.meta["termination"]
    print(f"steps                 {steps_sim} of {n} (ended: {end['reason']} {end['detail']})")
    print(f"bare mj_step loop     {rate_raw:10.0f} steps/s")
    print(
        f"gaitsim.simulate      {rate_sim:10.0f} steps/s  "
        f"({rate_sim * sc.run.physics_step_s:.2f} x real time)"
    )
    print(f"ratio simulate/bare   {rate_sim / rate_raw:10.2f}")
    print(
        f"recording {sc.run.record_rate_hz:g} Hz, controller {sc.controller.rate_hz:g} Hz, "
        f"{len(trace)} samples, {len(trace.channels)} channels"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)

"""Gymnasium environment step rate against a bare loop doing the same work.

Prints, measured in one run:
- the bare loop: a ``Simulation`` with an external device, per device tick: read the device's
  sensors, write a command, advance and check for a fall (the physics and the patient's neural
  controller, exactly what an env step runs);
- ``GaitEnv.step`` (through ``gymnasium.make``'s wrappers) with the same actions;
- their ratio (the env harness's cost: target at most 10 % over the bare loop);
- Gymnasium's Walker2d-v5 step rate in the same run, as a familiar reference, when its MuJoCo
  environments import here.

Usage: python benchmarks/env_speed.py [ENV_ID] [STEPS]   (default gaitsim/AnkleExoAssist-v0, 7000)
"""

from __future__ import annotations

import sys
import time

import gymnasium as gym
import numpy as np

import gaitsim  # noqa: F401  (registers the ids)
from gaitsim.env.core import start_episode
from gaitsim.sim.initial import quiet_mujoco_warnings


def bare_rate(env: gym.Env, steps: int) -> float:
    """Steps per second of the bare loop (episode starts not timed, as in env_rate), on the
    env's own episodes: the same bodies and run seeds, drawn as ``env.reset(seed=0)`` and the
    resets after it draw them, and the same actions, so both loops simulate the same gaits."""
    inner = env.unwrapped
    rng = gym.utils.seeding.np_random(0)[0]
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, inner.action_space.shape[0]))
    scale = inner.config.action_scale_nm
    done, elapsed = 0, 0.0
    while done < steps:
        with quiet_mujoco_warnings():
            sim = start_episode(inner._setup, rng, None).sim
        while not sim.done and done < steps:
            t0 = time.perf_counter()
            sim.device.observe(sim.data)
            sim.device.act(sim.data, actions[done].astype(np.float32) * scale)
            with quiet_mujoco_warnings():
                sim.advance(sim.device_every)
                sim.check()
            elapsed += time.perf_counter() - t0
            done += 1
    return steps / elapsed


def env_rate(env: gym.Env, steps: int) -> float:
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, env.action_space.shape[0]))
    env.reset(seed=0)
    elapsed = 0.0
    for k in range(steps):
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(actions[k].astype(np.float32))
        elapsed += time.perf_counter() - t0
        if terminated or truncated:
            env.reset()
    return steps / elapsed


def walker_rate(steps: int) -> float | None:
    try:
        env = gym.make("Walker2d-v5")
    except Exception as exc:  # gymnasium's MuJoCo envs need its mujoco extra
        print(f"Walker2d-v5 unavailable here: {type(exc).__name__}: {exc}")
        return None
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def main(env_id: str, steps: int) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    env_rate(env, 50)  # compile the controllers once
    # alternating rounds, the median ratio: a busy moment of the machine hits one round
    rounds = 7
    bares, envs = [], []
    for _ in range(rounds):
        bares.append(bare_rate(env, steps // rounds))
        envs.append(env_rate(env, steps // rounds))
    bare, stepped = float(np.median(bares)), float(np.median(envs))
    cost = float(np.median([b / e - 1 for b, e in zip(bares, envs, strict=True)]))
    print(f"{env_id}: {steps} steps (one device tick, 5 ms simulated, each), {rounds} rounds")
    print(f"  bare loop (observe, act, advance)  {bare:9.0f} steps/s (median)")
    print(f"  env.step                           {stepped:9.0f} steps/s (median)")
    print(f"  harness cost                       {cost:9.1%} (median of rounds; target <= 10 %)")
    walker = walker_rate(steps)
    if walker is not None:
        print(f"  Walker2d-v5 (reference)            {walker:9.0f} steps/s")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "gaitsim/AnkleExoAssist-v0",
        int(sys.argv[2]) if len(sys.argv) > 2 else 7000,
    )

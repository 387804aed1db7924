"""The vector environment against Gymnasium's loop over single environments, measured in one run.

For N = 1, 8, 64 members of one id (random actions, autoreset on, so falls and episode starts
are inside the timing, as in training):

- ``gymnasium.vector.SyncVectorEnv`` over N ``GaitEnv``: one simulation after the other;
- ``GaitVectorEnv`` (N members on ``mujoco.batch`` with ``--threads`` threads, the patients'
  controllers in one vmapped call);
- member-steps per second of each and their ratio (target at N = 64 on 2 threads: >= 1.8);
- Gymnasium's Walker2d-v5 step rate in the same run, as a familiar reference.

Usage: python benchmarks/vector_env_speed.py [ENV_ID] [VECTOR_STEPS] [--threads T]
(defaults: gaitsim/AnkleExoAssist-v0, 150, 2)
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from env_speed import walker_rate  # this folder's: the same reference in both benchmarks

import gaitsim  # noqa: F401  (registers the ids)
from gaitsim.env.single import GaitEnv
from gaitsim.env.train import env_config
from gaitsim.env.vector import GaitVectorEnv


def rate(venv: gym.vector.VectorEnv, steps: int) -> float:
    """Member-steps per second over ``steps`` vector steps (after a few untimed ones)."""
    n = venv.num_envs
    actions = np.random.default_rng(0).uniform(-1, 1, (steps + 5, n, 1)).astype(np.float32)
    venv.reset(seed=0)
    for a in actions[:5]:  # compile, warm caches
        venv.step(a)
    t0 = time.perf_counter()
    for a in actions[5:]:
        venv.step(a)
    return n * steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("env_id", nargs="?", default="gaitsim/AnkleExoAssist-v0")
    parser.add_argument("steps", nargs="?", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = env_config(args.env_id)
    print(f"{args.env_id}: {args.steps} vector steps per measurement, {args.threads} threads")
    print(f"{'N':>4} {'loop (steps/s)':>16} {'vector (steps/s)':>18} {'ratio':>7}")
    for n in (1, 8, 64):
        loop = rate(
            gym.vector.SyncVectorEnv([lambda: GaitEnv(config) for _ in range(n)]), args.steps
        )
        vector = rate(GaitVectorEnv(config, n, nthread=args.threads), args.steps)
        print(f"{n:>4} {loop:>16.0f} {vector:>18.0f} {vector / loop:>7.2f}")
    walker = walker_rate(5000)
    if walker is not None:
        print(f"Walker2d-v5 (reference): {walker:.0f} steps/s")


if __name__ == "__main__":
    main()

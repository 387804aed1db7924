"""``gaitsim train``: an assist policy trained with stable-baselines3, checkpointed, evaluated
on held-out seeds against the zero-torque device, and exported as a ``policy`` controller.

:func:`train` is the function; the CLI command only parses options. A run folder holds:

- ``run.json``: the environment id and algorithm;
- ``checkpoints/``: the model every ``checkpoint_every`` steps (``--resume`` continues from
  the newest);
- ``model.zip``: the final model (stable-baselines3's format: a pickle, for training only);
- ``best.zip`` / ``validation.json``: every ``validate_every`` steps and at the end the
  deterministic policy is run on validation seeds (run seeds from 2001, disjoint from the
  held-out ones) and the model with the best mean validation return is kept; that model is
  the one exported and evaluated (RL returns swing between updates, and the last policy is
  often not the best one; choosing on the held-out seeds would overstate it);
- ``policy.npz`` / ``policy.toml``: the exported controller (:mod:`gaitsim.env.export`; no
  pickle), what ``gaitsim run``, ``gaitsim compare`` and the robot use;
- ``evaluation.json``: per held-out seed, the episode's return and gait metrics under the
  trained policy and under zero torque (:func:`evaluate`), with mean and sd.

The held-out seeds are run seeds replayed on the scenario's own patient
(``reset(options={"run_seed": s})``), so ``gaitsim compare SCENARIO --controllers
RUN/policy.toml,zero-torque --first-seed S --seeds N --duration EPISODE_S`` reproduces the
evaluation's gait metrics; training draws its run seeds at random from 2^31.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gaitsim._io import write_text
from gaitsim.env.config import EnvConfig, load_env_config

ALGORITHMS = ("ppo", "sac")

#: What a run folder was trained on (environment id, algorithm): ``gaitsim export`` reads it.
RUN_FILE = "run.json"

#: The discount's horizon (s): a fall a few strides after the assist that caused it must
#: still weigh on the decision. With a 1 s horizon (a stride) every PPO run on
#: HipExoAssist learned to push harder for speed and fell more (README, "Training results").
HORIZON_S = 4.0


def discount(rate_hz: float) -> float:
    """The discount per decision for a horizon of ``HORIZON_S`` at ``rate_hz`` decisions
    per second (0.995 at 50 Hz)."""
    return 1.0 - 1.0 / (HORIZON_S * rate_hz)


#: First held-out evaluation seed (training draws its run seeds at random from 2^31).
EVAL_FIRST_SEED = 1001

#: First validation seed (model selection; disjoint from the held-out seeds).
VALIDATION_FIRST_SEED = 2001


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``env`` is an environment id (``gaitsim/HipExoAssist-v1``), a
    catalogue name or a path to an environment file."""

    env: str
    algo: str = "ppo"
    steps: int = 1_000_000
    out_dir: Path = Path("runs/train")
    n_envs: int = 8
    seed: int = 0
    checkpoint_every: int = 100_000
    eval_seeds: Sequence[int] = field(
        default_factory=lambda: range(EVAL_FIRST_SEED, EVAL_FIRST_SEED + 20)
    )
    resume: bool = False
    threads: int = 1  # torch's; the simulation has the other core
    validate_every: int = 250_000
    validation_seeds: Sequence[int] = field(
        default_factory=lambda: range(VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + 10)
    )

    def __post_init__(self) -> None:
        if self.algo not in ALGORITHMS:
            raise ValueError(f"algo = {self.algo!r}: allowed: {', '.join(ALGORITHMS)}")
        if min(self.steps, self.n_envs, self.checkpoint_every, self.validate_every) < 1:
            raise ValueError("steps, n_envs, checkpoint_every and validate_every must be >= 1")
        if set(self.validation_seeds) & set(self.eval_seeds):
            raise ValueError("validation_seeds and eval_seeds must not share a seed")


def env_config(name: str) -> EnvConfig:
    """The environment file of an id (``gaitsim/<Name>-vN``), catalogue name or path."""
    if name.startswith("gaitsim/"):
        from gaitsim.env.config import catalogue_configs

        for _, config in catalogue_configs():
            if isinstance(config, EnvConfig) and config.id == name:
                return config
        raise ValueError(f"{name}: no environment with this id in envs/")
    return load_env_config(name)


def make_algorithm(algo: str, venv: Any, seed: int, gamma: float) -> Any:
    """A stable-baselines3 model with settings for gait assist: small actor and critic, and
    PPO exploring with generalised state-dependent noise (gSDE; Raffin et al. 2022), drawn
    once per rollout, so a perturbation of the assist is held over many strides (log std
    -3.5: about 0.13 of the action range on a fresh policy), at a low learning rate (3e-5).
    Measured on HipExoAssist (README, "Training results"): with i.i.d. noise at 200 Hz or
    50 Hz, or gSDE at 1e-4, the policy's torque grew within 0.2-0.3M steps to a bang-bang
    assist that fell more than zero torque; at 3e-5 the validation runs pass through
    policies that walk faster than zero torque on most seeds."""
    import stable_baselines3 as sb3

    if algo == "ppo":
        return sb3.PPO(
            "MlpPolicy",
            venv,
            n_steps=max(64, 4096 // venv.num_envs),  # 4096 transitions per update
            batch_size=256,
            n_epochs=5,
            gamma=gamma,
            gae_lambda=0.95,
            learning_rate=3e-5,
            use_sde=True,
            sde_sample_freq=-1,
            policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "log_std_init": -3.5},
            seed=seed,
            device="cpu",
            verbose=0,
        )
    return sb3.SAC(
        "MlpPolicy",
        venv,
        gamma=gamma,
        learning_starts=10_000,
        policy_kwargs={"net_arch": [64, 64]},
        seed=seed,
        device="cpu",
        verbose=0,
    )


def load_run(run_dir: Path, checkpoint: Path | None = None) -> tuple[Any, EnvConfig]:
    """(model, environment) of a run folder: the model chosen on validation (``best.zip``),
    else its final model, or ``checkpoint``."""
    import stable_baselines3 as sb3

    try:
        run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{run_dir}: not a gaitsim train folder ({RUN_FILE}: {exc})") from None
    best = run_dir / "best.zip"
    path = checkpoint or (best if best.is_file() else run_dir / "model.zip")
    if not path.is_file():
        raise ValueError(f"{path}: no such model (the run has not finished; give --checkpoint)")
    cls = sb3.PPO if run["algo"] == "ppo" else sb3.SAC
    return cls.load(path, device="cpu"), env_config(run.get("env_source", run["env"]))


def _normalised(venv: Any, checkpoint: Path | None, gamma: float) -> Any:
    """Rewards scaled by a running estimate of the return's spread (SB3's VecNormalize; the
    observations are of order one already): a step earns ~0.005 and a fall costs 10, which
    otherwise leaves the critic's targets badly scaled. Resumes the checkpoint's statistics."""
    from stable_baselines3.common.vec_env import VecNormalize

    if checkpoint is not None:
        stats = checkpoint.with_name(checkpoint.name.replace("_", "_vecnormalize_", 1))
        stats = stats.with_suffix(".pkl")
        if stats.is_file():
            loaded = VecNormalize.load(str(stats), venv)
            loaded.training = True
            return loaded
    return VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=gamma)


def _newest_checkpoint(folder: Path) -> Path | None:
    found = [
        (int(m.group(1)), p)
        for p in folder.glob("*.zip")
        if (m := re.search(r"_(\d+)_steps", p.name))
    ]
    return max(found)[1] if found else None


def train(config: TrainConfig, progress: Callable[[str], Any] = print) -> dict[str, Any]:
    """Train, checkpoint, export and evaluate; returns the evaluation (also written)."""
    import stable_baselines3 as sb3
    import torch
    from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

    from gaitsim.env.export import export_policy
    from gaitsim.env.sb3 import make_training_env

    torch.set_num_threads(config.threads)
    env = env_config(config.env)
    out = config.out_dir
    checkpoints = out / "checkpoints"
    # where the environment came from: an id or catalogue name, or a file (made absolute)
    source = str(Path(config.env).resolve()) if Path(config.env).is_file() else config.env
    run = {
        "env": env.id,
        "env_source": source,
        "algo": config.algo,
        "seed": config.seed,
        "n_envs": config.n_envs,
    }
    if (out / RUN_FILE).is_file():
        before = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
        if config.resume and (before["env"], before["algo"]) != (env.id, config.algo):
            raise ValueError(
                f"{out}: holds a {before['algo']} run on {before['env']}, not "
                f"{config.algo} on {env.id}; --resume continues the same run"
            )
    write_text(out / RUN_FILE, json.dumps(run, indent=1))
    newest = _newest_checkpoint(checkpoints) if config.resume else None
    from gaitsim.env.core import decision_rate_hz

    gamma = discount(decision_rate_hz(env))
    venv = _normalised(make_training_env(env, config.n_envs, config.seed), newest, gamma)
    if newest is not None:
        cls = sb3.PPO if config.algo == "ppo" else sb3.SAC
        model = cls.load(newest, env=venv, device="cpu")
        progress(f"resuming from {newest} ({model.num_timesteps} steps)")
    else:
        model = make_algorithm(config.algo, venv, config.seed, gamma)
    started = time.monotonic()
    first = model.num_timesteps

    class Progress(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._next = first

        def _on_step(self) -> bool:
            if self.num_timesteps >= self._next:
                self._next += max(10_000, config.steps // 50)
                rate = (self.num_timesteps - first) / max(time.monotonic() - started, 1e-9)
                returns = [e["r"] for e in self.model.ep_info_buffer or ()]
                mean = f"{np.mean(returns):.3f}" if returns else "-"
                progress(
                    f"{self.num_timesteps} steps, {rate:.0f} steps/s, "
                    f"mean episode return {mean} over {len(returns)}"
                )
            return True

    saver = CheckpointCallback(
        max(1, config.checkpoint_every // config.n_envs),
        str(checkpoints),
        name_prefix=config.algo,
        save_vecnormalize=True,
    )
    validation = _Validation(env, config, out, progress)

    class Validate(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._next = first + config.validate_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self._next:
                self._next += config.validate_every
                validation.check(self.model)
            return True

    model.learn(
        total_timesteps=max(0, config.steps - model.num_timesteps),
        callback=[saver, Progress(), Validate()],
        reset_num_timesteps=False,
    )
    model.save(out / "model.zip")
    venv.close()
    train_s = time.monotonic() - started
    validation.check(model)
    cls = sb3.PPO if config.algo == "ppo" else sb3.SAC
    best = cls.load(out / "best.zip", device="cpu")
    progress(
        f"trained {model.num_timesteps} steps in {train_s:.0f} s; evaluating the model of "
        f"step {best.num_timesteps} (best on validation)"
    )
    policy_toml = export_policy(best, env, out)

    def act(obs: np.ndarray) -> np.ndarray:
        return best.predict(obs, deterministic=True)[0]

    result = {
        "env": env.id,
        "scenario": env.scenario,
        "algo": config.algo,
        "steps": int(model.num_timesteps),
        "selected_steps": int(best.num_timesteps),
        "train_s": round(train_s, 1),
        "policy": str(policy_toml),
        "seeds": list(config.eval_seeds),
        "validation_seeds": list(config.validation_seeds),
        "episode_s": env.episode_s,
        "trained": evaluate(env, act, config.eval_seeds),
        "zero_torque": evaluate(env, None, config.eval_seeds),
    }
    write_text(out / "evaluation.json", json.dumps(result, indent=1, allow_nan=False))
    return result


class _Validation:
    """Model selection on the validation seeds: each check runs the model's deterministic
    policy, appends the mean return to ``validation.json`` and saves the model as
    ``best.zip`` when it beats every earlier check (a resumed run keeps its history)."""

    def __init__(
        self, env: EnvConfig, config: TrainConfig, out: Path, progress: Callable[[str], Any]
    ) -> None:
        self._env, self._seeds, self._progress = env, config.validation_seeds, progress
        self._file = out / "validation.json"
        self._best = out / "best.zip"
        history: dict[str, Any] = {}
        if config.resume and self._file.is_file() and self._best.is_file():
            history = json.loads(self._file.read_text(encoding="utf-8"))
        if not history:
            zero = evaluate(env, None, self._seeds)["mean"]["return"]
            history = {"seeds": list(self._seeds), "zero_torque": zero, "checks": []}
        self._history = history

    def check(self, model: Any) -> None:
        checks = self._history["checks"]
        if checks and checks[-1]["steps"] == model.num_timesteps:
            return
        score = evaluate(
            self._env, lambda obs: model.predict(obs, deterministic=True)[0], self._seeds
        )["mean"]["return"]
        best = max((c["return"] for c in checks), default=-np.inf)
        checks.append({"steps": int(model.num_timesteps), "return": score})
        if score > best:
            model.save(self._best)
        write_text(self._file, json.dumps(self._history, indent=1, allow_nan=False))
        self._progress(
            f"validation at {model.num_timesteps} steps: return {score:.3f} "
            f"(best {max(score, best):.3f}, zero torque {self._history['zero_torque']:.3f})"
        )


def evaluate(
    config: EnvConfig,
    act: Callable[[np.ndarray], np.ndarray] | None,
    seeds: Sequence[int],
) -> dict[str, Any]:
    """Episodes of ``act`` (None: zero torque) from each run seed on the scenario's own
    patient; per seed the return and the gait metrics of ``gaitsim compare``, then per
    metric the mean and sd over seeds."""
    from gaitsim.env.single import GaitEnv
    from gaitsim.metrics import summarize
    from gaitsim.sim.compare import metrics_row

    env = GaitEnv(config, record=True)
    zero = np.zeros(env.action_space.shape or (), np.float32)
    runs = []
    for seed in seeds:
        obs, _ = env.reset(options={"run_seed": int(seed)})
        total, done, info = 0.0, False, {}
        while not done:
            obs, reward, terminated, truncated, info = env.step(zero if act is None else act(obs))
            total += reward
            done = terminated or truncated
        row = metrics_row(summarize(env.trace()), info.get("termination_reason") != "time_limit")
        runs.append({"seed": int(seed), "return": total, **row})
    env.close()
    return {"mean": _stats(runs, np.mean), "sd": _stats(runs, np.std), "runs": runs}


def _stats(runs: list[dict[str, Any]], fn: Callable) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if key == "seed":
            continue
        if isinstance(value, dict):
            out[key] = {k: _finite(fn, [r[key][k] for r in runs]) for k in value}
        else:
            out[key] = _finite(fn, [r[key] for r in runs])
    return out


def _finite(fn: Callable, values: list[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(fn(xs)) if xs else None

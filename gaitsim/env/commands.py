"""The environment commands of ``gaitsim``: ``envs``, ``train``, ``export``."""

from __future__ import annotations

from pathlib import Path

import click


def _bad(message: str) -> click.ClickException:
    from gaitsim._cli_common import BadInput

    return BadInput(message)


def _need_rl(command: str) -> None:
    """stable-baselines3 is the optional ``rl`` extra: say how to get it, not a traceback."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise click.ClickException(
            f"gaitsim {command} needs stable-baselines3 (the rl extra): pip install "
            "torch==2.13.0 (the CPU build, first), then pip install 'gaitsim[rl]'"
        ) from None


@click.command("envs")
@click.argument("env_id", required=False)
def envs_cmd(env_id: str | None) -> None:
    """List the environment catalogue (id, description), or describe ENV_ID: its observation,
    action, reward terms, episode end and randomisation, generated from its file."""
    from gaitsim.env.config import EnvConfigError, catalogue_configs

    if env_id is not None:
        from gaitsim.env.describe import describe
        from gaitsim.env.train import env_config

        try:
            click.echo(describe(env_config(env_id)))
        except (ValueError, EnvConfigError) as exc:
            raise _bad(str(exc)) from None
        return
    for stem, config in catalogue_configs():
        if isinstance(config, EnvConfigError):
            click.echo(f"envs/{stem}.toml\t(invalid: {str(config).splitlines()[0]})")
        else:
            click.echo(f"{config.id}\t{config.description}")


@click.command("train")
@click.argument("env_id")
@click.option("--algo", type=click.Choice(["ppo", "sac"]), default="ppo", show_default=True)
@click.option("--steps", type=click.IntRange(1, 10**9), default=1_000_000, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Run folder: checkpoints, model, exported policy, evaluation.",
)
@click.option("--n-envs", type=click.IntRange(1, 1024), default=8, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**31), default=0, show_default=True)
@click.option(
    "--eval-seeds",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Held-out run seeds for the evaluation (from 1001).",
)
@click.option(
    "--checkpoint-every", type=click.IntRange(1, 10**9), default=100_000, show_default=True
)
@click.option(
    "--validate-every",
    type=click.IntRange(1, 10**9),
    default=250_000,
    show_default=True,
    help="Steps between validation runs; the best model is exported.",
)
@click.option(
    "--validation-seeds",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Run seeds of each validation run (from 2001).",
)
@click.option("--resume", is_flag=True, help="Continue from the run folder's newest checkpoint.")
def train_cmd(
    env_id: str,
    algo: str,
    steps: int,
    out_dir: Path,
    n_envs: int,
    seed: int,
    eval_seeds: int,
    checkpoint_every: int,
    validate_every: int,
    validation_seeds: int,
    resume: bool,
) -> None:
    """Train an assist policy on ENV_ID with stable-baselines3, evaluate it against the
    zero-torque device on held-out seeds and export it as a policy controller."""
    from gaitsim._cli_common import check_out_dir as _check_out_dir
    from gaitsim.env.config import EnvConfigError
    from gaitsim.env.train import (
        EVAL_FIRST_SEED,
        VALIDATION_FIRST_SEED,
        TrainConfig,
        env_config,
        train,
    )

    _check_out_dir(out_dir)
    _need_rl("train")
    try:
        env_config(env_id)
    except (ValueError, EnvConfigError) as exc:
        raise _bad(str(exc)) from None
    config = TrainConfig(
        env_id,
        algo,
        steps,
        out_dir,
        n_envs,
        seed,
        checkpoint_every,
        range(EVAL_FIRST_SEED, EVAL_FIRST_SEED + eval_seeds),
        resume,
        validate_every=validate_every,
        validation_seeds=range(VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + validation_seeds),
    )
    try:
        result = train(config, lambda line: click.echo(line, err=True))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    click.echo(format_evaluation(result))


def format_evaluation(result: dict) -> str:
    """The evaluation as a table (mean and sd over the held-out seeds) and the command that
    reproduces its gait metrics."""
    rows = [
        ("return", "return"),
        ("fell", "falls (fraction)"),
        ("speed_m_s", "speed (m/s)"),
        ("step_symmetry", "step length symmetry ratio"),
        ("swing_symmetry", "swing time symmetry ratio"),
        ("metabolic_w_kg", "metabolic rate, net (W/kg)"),
        ("peak_interaction_nm", "peak interaction torque (N m)"),
    ]
    names = ("trained", "zero_torque")
    lines = [
        f"{'over ' + str(len(result['seeds'])) + ' held-out seeds':<36}"
        + "".join(f"{n:>22}" for n in names)
    ]
    for key, label in rows:
        cells = []
        for n in names:
            m, s = result[n]["mean"].get(key), result[n]["sd"].get(key)
            cells.append("-" if m is None else f"{m:.3f} +- {s:.3f}")
        lines.append(f"{label:<36}" + "".join(f"{c:>22}" for c in cells))
    seeds = result["seeds"]
    if "selected_steps" in result:
        lines.append(
            f"model of step {result['selected_steps']} of {result['steps']} "
            "(best mean return on the validation seeds)"
        )
    lines.append(
        f"reproduce: gaitsim compare {result['scenario']} --controllers {result['policy']},"
        f"zero-torque --first-seed {seeds[0]} --seeds {len(seeds)} "
        f"--duration {result['episode_s']:g}"
    )
    return "\n".join(lines)


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A checkpoint of the run instead of the model chosen on validation.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for NAME.npz and NAME.toml (default: the run folder).",
)
@click.option("--name", default="policy", show_default=True)
def export_cmd(run_dir: Path, checkpoint: Path | None, out_dir: Path | None, name: str) -> None:
    """Export a gaitsim train run's policy as a policy controller (.npz weights, no pickle,
    and its configuration .toml)."""
    from gaitsim._cli_common import check_out_dir as _check_out_dir
    from gaitsim.env.export import ExportError, export_policy
    from gaitsim.env.train import load_run

    out = out_dir or run_dir
    _check_out_dir(out)
    _need_rl("export")
    try:
        model, env = load_run(run_dir, checkpoint)
        path = export_policy(model, env, out, name)
    except (ValueError, ExportError) as exc:
        raise _bad(str(exc)) from None
    click.echo(f"wrote {path} and {path.with_suffix('.npz')}")

"""The ``gaitsim`` command.

SCENARIO is a catalogue name (``gaitsim scenarios``) or a path to a TOML file. Bad input exits
with code 2 and one message naming the file, field, value and what is allowed; nothing is
written then.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from gaitsim import catalogue
from gaitsim.spec import Scenario, ScenarioError


def _load_scenario(name_or_path: str) -> Scenario:
    from gaitsim import spec

    try:
        return spec.load(catalogue.resolve_scenario(name_or_path))
    except (ScenarioError, FileNotFoundError) as exc:
        raise click.UsageError(str(exc)) from None


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _progress_bar(total_s: float, enabled: bool):
    from tqdm import tqdm

    bar = tqdm(
        total=100,
        unit="%",
        file=sys.stderr,
        disable=not enabled,
        leave=False,
        desc=f"simulating {total_s:g} s",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
    )

    def update(fraction: float) -> None:
        bar.n = round(100 * fraction)
        bar.refresh()

    return bar, update


def run_result(scenario: Scenario, trace: Any, trace_path: Path | None) -> dict[str, Any]:
    """The ``gaitsim run --json`` object (key set documented in the README)."""
    from gaitsim.metrics import summarize

    return {
        "scenario": scenario.name,
        "seed": trace.meta["seed"],
        "termination": trace.meta["termination"],
        "simulated_s": float(trace.time_s[-1]) if len(trace) else 0.0,
        "trace": None if trace_path is None else str(trace_path),
        "metrics": summarize(trace).to_dict(),
        "versions": trace.meta["versions"],
    }


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gaitsim")
def main() -> None:
    """gaitsim: a digital twin of robot-assisted gait rehabilitation."""


@main.command("scenarios")
def scenarios_cmd() -> None:
    """List the scenario catalogue: name, then a short description."""
    import tomllib

    for name in catalogue.scenario_names():
        path = catalogue.catalogue_dir("scenarios") / f"{name}.toml"
        description = tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")
        click.echo(f"{name}\t{description}")


@main.command("run")
@click.argument("scenario")
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), default=None, help="Override the scenario's seed."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the trace and summary (created after a successful run).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print exactly one JSON object on stdout; progress goes to stderr.",
)
def run_cmd(scenario: str, seed: int | None, out_dir: Path | None, as_json: bool) -> None:
    """Simulate SCENARIO and print the gait summary."""
    from gaitsim.metrics import format_table, summarize
    from gaitsim.sim.simulation import simulate

    spec = _load_scenario(scenario)
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise click.UsageError(f"--out {out_dir}: exists and is not a directory")
    bar, update = _progress_bar(spec.run.duration_s, enabled=sys.stderr.isatty() or as_json)
    with bar:
        trace = simulate(spec, seed=seed, progress=update)
    trace_path = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if "trace" in spec.run.outputs:
            trace_path = trace.save(out_dir / "trace.npz")
    result = run_result(spec, trace, trace_path)
    if out_dir is not None and "summary" in spec.run.outputs:
        _write_text_atomic(out_dir / "summary.json", json.dumps(result, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(result))
        return
    end = result["termination"]
    click.echo(
        f"scenario {spec.name}  seed {result['seed']}  ended: {end['reason']} "
        f"at {end['time_s']:.3f} s {end['detail']}"
    )
    click.echo(format_table(summarize(trace)))
    if trace_path is not None:
        click.echo(f"trace: {trace_path}")


@main.command("model")
@click.argument("scenario")
@click.option(
    "--xml",
    "xml_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the assembled MJCF.",
)
def model_cmd(scenario: str, xml_path: Path) -> None:
    """Write SCENARIO's assembled model as MJCF (open it in MuJoCo's viewer)."""
    from gaitsim.model import build_model

    spec = _load_scenario(scenario)
    built = build_model(spec.patient, spec.course, spec.run.physics_step_s)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    _write_text_atomic(xml_path, built.xml)
    click.echo(
        f"wrote {xml_path} ({built.model.nbody - 1} bodies, {built.model.nu} muscles, "
        f"{built.mass_kg:.1f} kg)",
        err=True,
    )


if __name__ == "__main__":
    main()

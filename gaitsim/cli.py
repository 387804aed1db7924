"""The ``gaitsim`` command.

SCENARIO is a catalogue name (``gaitsim scenarios``) or a path to a TOML file. Bad input exits
with code 2 and one message naming the file, field, value and what is allowed; nothing is
written then.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from gaitsim import catalogue
from gaitsim._cli_common import BadInput  # gaitsim.cli.BadInput too
from gaitsim._cli_common import check_out_dir as _check_out_dir
from gaitsim._cli_common import load_scenario as _load_scenario
from gaitsim._cli_common import seed_option as _seed_option
from gaitsim._io import write_text
from gaitsim.spec import Scenario


def _simulate(spec: Scenario, seed: int | None, show_progress: bool) -> Any:
    """Simulate with a progress bar on stderr (stdout stays clean for --json)."""
    from tqdm import tqdm

    from gaitsim.sim.simulation import simulate

    with tqdm(
        total=100,
        file=sys.stderr,
        disable=not show_progress,
        leave=False,
        desc=f"simulating {spec.run.duration_s:g} s",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
    ) as bar:

        def update(fraction: float) -> None:
            bar.n = round(100 * fraction)
            bar.refresh()

        return simulate(spec, seed=seed, progress=update)


def run_result(
    scenario: Scenario, trace: Any, summary: Any, trace_path: Path | None
) -> dict[str, Any]:
    """The ``gaitsim run --json`` object (key set documented in the README)."""
    from gaitsim.metrics.course import score_course

    return {
        "scenario": scenario.name,
        "seed": trace.meta["seed"],
        "termination": trace.meta["termination"],
        "simulated_s": float(trace.time_s[-1]) if len(trace) else 0.0,
        "trace": None if trace_path is None else str(trace_path),
        "metrics": summary.to_dict(),
        "course": score_course(trace),
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
        try:
            description = str(
                tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")
            )
        except (OSError, tomllib.TOMLDecodeError) as exc:
            description = f"(unreadable: {exc})"
        click.echo(f"{name}\t{' '.join(description.split())}")


@main.command("run")
@click.argument("scenario")
@_seed_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the scenario's run.outputs (trace, summary, report, video), written "
    "when the run ends, however it ends.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print exactly one JSON object on stdout; progress goes to stderr.",
)
@click.option("--cues", is_flag=True, help="Print the feedback cues of a course, timed.")
def run_cmd(
    scenario: str, seed: int | None, out_dir: Path | None, as_json: bool, cues: bool
) -> None:
    """Simulate SCENARIO and print the gait summary (and the course's score)."""
    from gaitsim.metrics import format_table, summarize
    from gaitsim.metrics.course import format_course

    spec = _load_scenario(scenario)
    if out_dir is not None:
        _check_out_dir(out_dir)
    trace = _simulate(spec, seed, show_progress=sys.stderr.isatty() or as_json)
    summary = summarize(trace)
    result, files = _save_run(spec, trace, summary, out_dir)
    if as_json:
        click.echo(json.dumps(result))
        return
    end = result["termination"]
    click.echo(
        f"scenario {spec.name}  seed {result['seed']}  ended: {end['reason']} "
        f"at {end['time_s']:.3f} s {end['detail']}"
    )
    click.echo(format_table(summary))
    if result["course"] is not None:
        click.echo(format_course(result["course"]))
    if cues:
        for event in trace.events:
            if event.kind == "cue":
                click.echo(f"cue {event.time_s:8.2f} s  {event.detail['text']}")
    for label, path in files.items():
        click.echo(f"{label}: {path}")


def _save_run(
    spec: Scenario, trace: Any, summary: Any, out_dir: Path | None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The run result, and the scenario's outputs written under ``out_dir`` (none without)."""
    files = {} if out_dir is None else _write_outputs(spec, trace, summary, out_dir)
    result = run_result(spec, trace, summary, files.get("trace"))
    if "summary" in files:
        write_text(files["summary"], json.dumps(result, indent=2) + "\n")
    return result, files


def _write_outputs(spec: Scenario, trace: Any, summary: Any, out_dir: Path) -> dict[str, Path]:
    """Write the scenario's outputs under ``out_dir``; returns label -> path.

    The summary file is only named here (its content is the run result, written by the
    caller). A video that cannot be rendered is reported on stderr and left out.
    """
    from gaitsim.metrics.course import score_course
    from gaitsim.render.report import ReviewRun, write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = spec.run.outputs
    files: dict[str, Path] = {}
    if "trace" in outputs:
        files["trace"] = trace.save(out_dir / "trace.npz")
    if "summary" in outputs:
        files["summary"] = out_dir / "summary.json"
    if "video" in outputs:
        from gaitsim.render import RenderUnavailable, render_trace

        try:
            files["video"] = render_trace(trace, out_dir / "video.mp4")
        except RenderUnavailable as exc:
            click.echo(f"warning: no video: {exc}", err=True)
    if "report" in outputs:
        run = ReviewRun(out_dir.resolve().name, trace, summary, score_course(trace))
        files["report"] = write_report([run], out_dir)["report"]
    return files


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for report.html and its PNGs (default: the run folder, with one run).",
)
@click.option("--title", default=None, help="The page's title.")
def report_cmd(run_dirs: tuple[Path, ...], out_dir: Path | None, title: str | None) -> None:
    """Write one self-contained HTML report (plots embedded, PNGs beside it) of RUN_DIRS:
    folders written by `gaitsim run --out`, in order (a trend across them with two or more)."""
    from gaitsim.render.report import ReportInputError, load_run, write_report

    if out_dir is None:
        if len(run_dirs) > 1:
            raise BadInput("--out: required with more than one run folder")
        out_dir = run_dirs[0]
    _check_out_dir(out_dir)
    try:
        runs = [load_run(folder) for folder in run_dirs]
    except ReportInputError as exc:
        raise BadInput(str(exc)) from None
    paths = write_report(runs, out_dir, title)
    click.echo(f"report: {paths['report']}", err=True)


@main.command("render")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="MP4 file to write.",
)
@click.option(
    "--compare",
    "side_by_side",
    is_flag=True,
    help="Render SOURCES side by side, synchronised, a strip chart under each panel.",
)
@click.option(
    "--controllers",
    default=None,
    help="With --compare and one scenario: render it without its device and under each of "
    "these comma-separated device-controller configurations, from the same seed.",
)
@click.option(
    "--signal",
    default=None,
    help="Channel of the comparison's strip charts (default: the paretic knee angle).",
)
@click.option("--fps", type=click.FloatRange(1, 240), default=30.0, show_default=True)
@click.option(
    "--slow-motion",
    type=click.FloatRange(0.01, 100),
    default=1.0,
    show_default=True,
    help="Playback slower than real time by this factor.",
)
@click.option(
    "--width",
    type=click.IntRange(16, 7680),
    default=None,
    help="Video width (default 640 per panel).",
)
@click.option(
    "--height",
    type=click.IntRange(16, 2160),
    default=None,
    help="Video height (default 360; 480 with --compare, charts included).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Render processes (default: one per core, fewer for short videos).",
)
@_seed_option
def render_cmd(
    sources: tuple[str, ...],
    out_path: Path,
    side_by_side: bool,
    controllers: str | None,
    signal: str | None,
    fps: float,
    slow_motion: float,
    width: int | None,
    height: int | None,
    workers: int | None,
    seed: int | None,
) -> None:
    """Render SOURCES (saved trace.npz files, run folders, or scenarios to simulate first) to
    an MP4 video: one source, or with --compare several side by side."""
    from gaitsim.render import RenderUnavailable, render_compare, render_trace

    _check_out_dir(out_path.parent)
    if not side_by_side and (len(sources) > 1 or controllers or signal):
        raise BadInput("several sources, --controllers and --signal need --compare")
    if controllers:
        if len(sources) != 1:
            raise BadInput("--controllers: give exactly one scenario to compare under them")
        runs = _controller_runs(sources[0], controllers, seed)
    else:
        runs = [_render_source(source, seed) for source in sources]
    if side_by_side and len(runs) < 2:
        raise BadInput("--compare: needs two or more sources (or --controllers)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if side_by_side:
            written = render_compare(
                [trace for _, trace in runs],
                [label for label, _ in runs],
                out_path,
                signal=signal,
                fps=fps,
                width=width or 640 * len(runs),
                height=height or 480,
                slow_motion=slow_motion,
                workers=workers,
            )
        else:
            written = render_trace(
                runs[0][1],
                out_path,
                fps=fps,
                width=width or 640,
                height=height or 360,
                slow_motion=slow_motion,
                workers=workers,
            )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    except RenderUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"video: {written}", err=True)


def _render_source(source: str, seed: int | None) -> tuple[str, Any]:
    """(label, trace) of a trace file, a run folder, or a scenario simulated here."""
    from gaitsim.sim.trace import Trace

    path = Path(source)
    if source.endswith(".npz") or path.is_dir():
        file = path / "trace.npz" if path.is_dir() else path
        try:
            trace = Trace.load(file)
        except (OSError, ValueError, KeyError) as exc:
            raise BadInput(f"{file}: cannot read trace: {exc}") from None
        label = path.name if path.is_dir() else (path.parent.name or path.stem)
        return label, trace
    spec = _load_scenario(source)
    return spec.name, _simulate(spec, seed, show_progress=sys.stderr.isatty())


def _controller_names(scenario: str, spec: Scenario, controllers: str | None) -> list[str]:
    """The ``--controllers`` of a comparison, each checked (default: every shipped one that
    fits the scenario's device); refuses a scenario without a device."""
    from gaitsim.control.devices import ControllerConfigError, load_config
    from gaitsim.sim.compare import default_controllers

    if spec.device.kind == "none":
        raise BadInput(f"{scenario}: device.kind = 'none': nothing to compare; give it a device")
    names = (
        [n.strip() for n in controllers.split(",") if n.strip()]
        if controllers
        else default_controllers(spec)
    )
    try:
        for name in names:
            load_config(name)
    except (ControllerConfigError, FileNotFoundError) as exc:
        raise BadInput(f"--controllers: {exc}") from None
    return names


def _controller_runs(scenario: str, controllers: str, seed: int | None) -> list[tuple[str, Any]]:
    """SCENARIO without its device and under each configuration: (label, trace) each."""
    from gaitsim.sim.compare import conditions

    spec = _load_scenario(scenario)
    names = _controller_names(scenario, spec, controllers)
    return [
        (c.name, _simulate(c.scenario, seed, show_progress=sys.stderr.isatty()))
        for c in conditions(spec, names)
    ]


DEMO_SCENARIO = "obstacle-avoidance-hemiparetic-moderate-ankle-exo"


@main.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/demo"),
    show_default=True,
    help="Folder for the runs, the comparison video and the report.",
)
@click.option(
    "--scenario",
    default=DEMO_SCENARIO,
    show_default=True,
    help="A scenario with a device: shown without it and with its controller.",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(1.0, 3600.0),
    default=40.0,
    show_default=True,
    help="Simulated seconds per run.",
)
@click.option("--width", type=click.IntRange(32, 7680), default=1280, show_default=True)
@click.option("--height", type=click.IntRange(32, 2160), default=480, show_default=True)
@_seed_option
def demo_cmd(
    out_dir: Path,
    scenario: str,
    duration_s: float,
    width: int,
    height: int,
    seed: int | None,
) -> None:
    """The showcase: a moderate hemiparetic patient on the obstacle session, without a
    device and with the ankle assist, from the same seed: both runs, a side-by-side video
    (compare.mp4) and one report (report.html)."""
    from gaitsim.metrics import summarize
    from gaitsim.render import RenderUnavailable, render_compare
    from gaitsim.render.report import ReviewRun, write_report
    from gaitsim.sim.compare import conditions

    spec = _load_scenario(scenario)
    if spec.device.kind == "none":
        raise BadInput(f"--scenario {scenario}: device.kind = 'none': the demo needs a device")
    _check_out_dir(out_dir)
    run = spec.run.model_copy(update={"duration_s": duration_s, "outputs": ("trace", "summary")})
    spec = spec.model_copy(update={"run": run})
    runs, traces = [], []
    for condition in conditions(spec, [spec.device.controller]):
        click.echo(f"simulating {condition.name} ({duration_s:g} s)", err=True)
        trace = _simulate(condition.scenario, seed, show_progress=sys.stderr.isatty())
        summary = summarize(trace)
        result, _ = _save_run(condition.scenario, trace, summary, out_dir / condition.name)
        runs.append(ReviewRun(condition.name, trace, summary, result["course"]))
        traces.append(trace)
        end = result["termination"]
        course = (result["course"] or {}).get("session", {})
        click.echo(
            f"  {condition.name}: {end['reason']} at {end['time_s']:.1f} s, speed "
            f"{_fmt(summary.speed_m_s, '.2f')} m/s, step-length ratio "
            f"{_fmt(summary.symmetry['step_length_m']['ratio'], '.2f')}, course "
            f"{_fmt(course.get('score_pct'), '.0f')} %"
        )
    report = write_report(runs, out_dir, title=f"gaitsim demo: {spec.name}")["report"]
    click.echo(f"report: {report}", err=True)
    click.echo("rendering the comparison", err=True)
    try:
        video = render_compare(
            traces, [r.label for r in runs], out_dir / "compare.mp4", width=width, height=height
        )
    except RenderUnavailable as exc:
        raise click.ClickException(f"no video: {exc}") from None
    click.echo(f"video: {video}", err=True)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


@main.command("compare")
@click.argument("scenario")
@click.option(
    "--controllers",
    default=None,
    help="Comma-separated device-controller configurations (controllers/*.toml or paths); "
    "default: every shipped one that fits the scenario's device.",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Runs per condition (seeds S..S+N-1, S the --first-seed; each a perturbed start).",
)
@click.option(
    "--first-seed",
    type=click.IntRange(0, 2**31),
    default=1,
    show_default=True,
    help="First seed (held-out seeds of a trained policy's evaluation: gaitsim train's).",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(1.0, 3600.0),
    default=20.0,
    show_default=True,
    help="Simulated seconds per run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def compare_cmd(
    scenario: str,
    controllers: str | None,
    seeds: int,
    first_seed: int,
    duration_s: float,
    as_json: bool,
) -> None:
    """Run SCENARIO's patient without its device and under each device controller, from the
    same seeds, and print gait, symmetry, clearance, energy and interaction per condition."""
    from tqdm import tqdm

    from gaitsim.sim.compare import compare, format_comparison

    spec = _load_scenario(scenario)
    names = _controller_names(scenario, spec, controllers)
    total = (len(names) + 1) * seeds
    with tqdm(total=total, file=sys.stderr, desc="comparing", unit="run") as bar:
        result = compare(
            spec,
            names,
            range(first_seed, first_seed + seeds),
            duration_s,
            lambda name, seed: bar.update(1),
        )
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
    else:
        click.echo(format_comparison(result))


@main.command("tune")
@click.argument("scenario")
@click.option(
    "--planner",
    is_flag=True,
    help="Tune the course planner's gains on SCENARIO's course sessions instead of the "
    "reflex controller (gaitsim.neural.tune_course); --out gets a [controller.planner] table.",
)
@click.option(
    "--on-course",
    "on_course",
    is_flag=True,
    help="Tune the reflex gains on SCENARIO's course sessions, its planner steering them, "
    "instead of on flat walking (gaitsim.neural.tune_course); keeps the initial state.",
)
@click.option(
    "--generations",
    type=click.IntRange(1, 100_000),
    default=None,
    help="CMA-ES generations [default: 300; --planner, --on-course: 20].",
)
@click.option(
    "--population",
    type=click.IntRange(4, 1024),
    default=None,
    help="Candidates per generation [default: 16; --planner: 8; --on-course: 12].",
)
@click.option(
    "--sigma",
    type=click.FloatRange(1e-4, 0.5),
    default=None,
    help="Initial CMA-ES step, as a fraction of each parameter's range [default: 0.1; "
    "--planner: 0.2; --on-course: 0.007].",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="--planner, --on-course: sessions per candidate, from run seed 101 (a generated "
    "course is drawn from each seed too).",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(0.5, 600),
    default=10.0,
    show_default=True,
    help="Simulated seconds per evaluation.",
)
@click.option(
    "--target-speed",
    "target_speed",
    type=click.FloatRange(0.1, 3.0),
    default=1.25,
    show_default=True,
    help="Walking speed the cost tracks (m/s).",
)
@click.option(
    "--gains",
    default=None,
    help="--on-course: the reflex gains to search, comma-separated names (e.g. "
    "alpha_delta,HAM_9_PG); the others are kept at the start's [default: all].",
)
@click.option(
    "--asymmetric",
    is_flag=True,
    help="One gain set per leg (hemiparetic patients); default: one set for both.",
)
@click.option(
    "--warm-start",
    "warm_start",
    default=None,
    help="Parameter file to start from (default: the scenario's controller.parameters).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Result file (default: controllers/<scenario>.json; --planner: <work-dir>/planner.toml; "
    "--on-course: <work-dir>/parameters.json).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Checkpoint and log folder (default: runs/tune-<scenario>).",
)
@click.option(
    "--perturbed-starts",
    type=click.IntRange(0, 16),
    default=0,
    show_default=True,
    help="Also evaluate each candidate from this many perturbed initial states.",
)
@click.option(
    "--min-step-ratio",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="The shorter mean step must be at least this fraction of the longer (0: no check).",
)
@click.option(
    "--torque-noise",
    "torque_noise",
    type=click.FloatRange(0.0, 50.0),
    default=0.0,
    show_default=True,
    help="Random torques on the leg joints during evaluation (N m std, correlated over "
    "0.1 s): a patient robust to what a worn device adds.",
)
@click.option(
    "--metabolic-weight",
    "metabolic_weight",
    type=click.FloatRange(0.0, 100.0),
    default=0.0,
    show_default=True,
    help="Weight of the muscles' activation heat per kg and metre (Umberger 2003) in the cost.",
)
@click.option(
    "--step-adjust",
    "step_adjust",
    type=click.FloatRange(0.0, 0.5),
    default=0.0,
    show_default=True,
    help="For courses: every other swing on average gets a random target-leg-angle offset "
    "up to this (rad), as the course planner's step adjustments, and the cost adds how far "
    "steps land from the walker's own linear model of step length on offset.",
)
@click.option(
    "--curriculum",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="Tune through this many patients of growing impairment (k/N of the patient's), each "
    "warm-started from the last; stages before the last stop once walking after 20 "
    "generations.",
)
@click.option("--resume", is_flag=True, help="Continue from the work dir's checkpoint.")
@_seed_option
def tune_cmd(
    scenario: str,
    planner: bool,
    on_course: bool,
    generations: int | None,
    population: int | None,
    sigma: float | None,
    seeds: int,
    duration_s: float,
    target_speed: float,
    gains: str | None,
    asymmetric: bool,
    warm_start: str | None,
    out_path: Path | None,
    work_dir: Path | None,
    perturbed_starts: int,
    min_step_ratio: float,
    torque_noise: float,
    metabolic_weight: float,
    step_adjust: float,
    curriculum: int,
    resume: bool,
    seed: int | None,
) -> None:
    """Tune SCENARIO's reflex controller by CMA-ES; the best parameters go to --out. With
    --planner, tune its course planner's gains instead; with --on-course, the reflex gains
    on its course sessions."""
    from tqdm import tqdm

    from gaitsim.catalogue import catalogue_dir
    from gaitsim.neural import controller as rc
    from gaitsim.neural.parameters import ParameterError
    from gaitsim.neural.tune import TuneConfig, tune, tune_curriculum

    if planner and on_course:
        raise BadInput("--planner, --on-course: choose one")
    mode = "--planner" if planner else "--on-course" if on_course else "reflex"
    # an option of another mode would be silently ignored: refuse it instead
    ctx = click.get_current_context()
    given = [
        o
        for o in _MODE_ONLY
        if o not in _MODE_ONLY_OPTIONS_OF[mode]
        and ctx.get_parameter_source(o) == ParameterSource.COMMANDLINE
    ]
    if given:
        flags = {p.name: p.opts[0] for p in ctx.command.params}
        names = ", ".join(flags[o] for o in given)
        what = "the reflex tuning (without --planner or --on-course)" if mode == "reflex" else mode
        raise BadInput(f"{names}: not an option of {what}")
    spec = _load_scenario(scenario)
    work_dir = work_dir or Path("runs") / f"tune-{spec.name}"
    start = None  # --planner keeps the reflex gains: no start file
    if not planner:
        try:
            start_file = rc.resolve_parameter_file(warm_start or spec.controller.parameters)
            reflex_lr, initial, _ = rc.load_parameter_file(start_file)
        except ParameterError as exc:
            raise BadInput(str(exc)) from None
        start = (reflex_lr, initial)
    # the flat tuning writes the catalogue's file; the course tunings, a candidate to check
    default = {
        "--planner": work_dir / "planner.toml",
        "--on-course": work_dir / "parameters.json",
        "reflex": catalogue_dir("controllers") / f"{spec.name}.json",
    }[mode]
    out_path = out_path or default
    _check_out_dir(work_dir)
    _check_out_dir(out_path.parent)
    if planner or on_course:
        _tune_course(
            spec, start, generations, population, sigma, seeds,
            asymmetric, gains, out_path, work_dir, resume, seed,
        )  # fmt: skip
        return
    assert start is not None
    generations = 300 if generations is None else generations
    population = 16 if population is None else population
    sigma = 0.1 if sigma is None else sigma
    config = TuneConfig(
        generations=generations,
        population=population,
        sigma=sigma,
        duration_s=duration_s,
        target_speed_m_s=target_speed,
        symmetric=not asymmetric,
        perturbed_starts=perturbed_starts,
        min_step_ratio=min_step_ratio,
        torque_noise_nm=torque_noise,
        metabolic_weight=metabolic_weight,
        step_adjust_rad=step_adjust,
        seed=1 if seed is None else seed,
    )
    with tqdm(total=generations, file=sys.stderr, desc="tuning", unit="gen") as bar:

        def update(generation: int, best: float, stage: int | None = None) -> None:
            if stage is not None:
                bar.set_description(f"stage {stage}/{curriculum}")
            bar.n = generation
            bar.set_postfix(best_cost=f"{best:.3f}")

        try:
            if curriculum == 1:
                result = tune(spec, config, start, out_path, work_dir, resume, update)
            else:
                result = tune_curriculum(
                    spec,
                    config,
                    start,
                    out_path,
                    work_dir,
                    curriculum,
                    resume,
                    lambda k, g, c: update(g, c, k),
                )
        except ValueError as exc:  # a checkpoint that does not fit this run
            raise BadInput(str(exc)) from None
    click.echo(
        f"tuned {spec.name}: {result['generations']} generations, best cost "
        f"{result['best_cost']:.4f}, {result['wall_s']:.0f} s; parameters: {out_path}; "
        f"log: {work_dir / 'log.csv'}"
    )


#: tune_cmd's options that not every mode reads (parameter names), and those each mode reads.
_MODE_ONLY = (
    "seeds",
    "duration_s",
    "target_speed",
    "gains",
    "asymmetric",
    "warm_start",
    "perturbed_starts",
    "min_step_ratio",
    "torque_noise",
    "metabolic_weight",
    "step_adjust",
    "curriculum",
)
_MODE_ONLY_OPTIONS_OF = {
    "reflex": set(_MODE_ONLY) - {"seeds"},
    "--planner": {"seeds"},
    "--on-course": {"seeds", "gains", "asymmetric", "warm_start"},
}


def _tune_course(
    spec: Any,
    start: tuple[Any, Any] | None,
    generations: int | None,
    population: int | None,
    sigma: float | None,
    seeds: int,
    asymmetric: bool,
    gains: str | None,
    out_path: Path,
    work_dir: Path,
    resume: bool,
    seed: int | None,
) -> None:
    """``gaitsim tune --planner`` (``start`` None: the course planner's gains) or
    ``--on-course`` (the reflex gains from ``start``): CMA-ES over course sessions."""
    from tqdm import tqdm

    from gaitsim.neural.tune_course import CourseTuneConfig, tune_planner, tune_reflex

    if spec.controller.kind != "reflex":
        raise BadInput(
            f"{spec.name}: controller.kind = {spec.controller.kind!r}: "
            f"{'the planner steers' if start is None else '--on-course tunes'} the reflex "
            "controller; use kind = 'reflex'"
        )
    config = CourseTuneConfig(
        generations=20 if generations is None else generations,
        population=(8 if start is None else 12) if population is None else population,
        # reflex gains: a small step, the course is unforgiving (random changes of 2 % of
        # each gain's range made 44 of 60 healthy obstacle sessions fall, 2026-12-03)
        sigma=(0.2 if start is None else 0.007) if sigma is None else sigma,
        seeds=seeds,
        seed=1 if seed is None else seed,
        symmetric=not asymmetric,
        gains=None if gains is None else tuple(g.strip() for g in gains.split(",") if g.strip()),
    )
    what = "planner" if start is None else "on course"
    with tqdm(total=config.generations, file=sys.stderr, desc=f"tuning {what}", unit="gen") as bar:

        def update(generation: int, best: float) -> None:
            bar.n = generation
            bar.set_postfix(best_cost=f"{best:.3f}")

        try:
            if start is None:
                result = tune_planner(spec, config, out_path, work_dir, resume, update)
            else:
                result = tune_reflex(spec, config, start, out_path, work_dir, resume, update)
        except ValueError as exc:  # no course, planner off, or a checkpoint that does not fit
            raise BadInput(str(exc)) from None
    success = sum(r["success"] for r in result["sessions"]) / len(result["sessions"])
    log = work_dir / ("planner-log.csv" if start is None else "course-log.csv")
    tuned = f"{spec.name}'s planner" if start is None else f"{spec.name} on its course"
    click.echo(
        f"tuned {tuned}: "
        f"{result['generations']} generations, best cost {result['best_cost']:.4f} (success "
        f"{success:.3f}), {result['wall_s']:.0f} s; {out_path}; log: {log}"
    )


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
    from gaitsim.model import build_scenario

    spec = _load_scenario(scenario)
    built = build_scenario(spec)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    write_text(xml_path, built.xml)
    click.echo(
        f"wrote {xml_path} ({built.model.nbody - 1} bodies, {built.model.nu} muscles, "
        f"{built.mass_kg:.1f} kg)",
        err=True,
    )


def _add_env_commands() -> None:
    from gaitsim.env.commands import envs_cmd, export_cmd, train_cmd
    from gaitsim.hardware.commands import hw_group, replay_cmd, twin_group

    for command in (envs_cmd, train_cmd, export_cmd, twin_group, hw_group, replay_cmd):
        main.add_command(command)


_add_env_commands()

if __name__ == "__main__":
    main()

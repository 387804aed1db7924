"""The review report: one self-contained HTML page (every plot embedded) plus the plots as PNGs.

For one run or a set of runs (e.g. a patient's sessions, or one patient under several
controllers), each a folder written by ``gaitsim run --out DIR`` (``trace.npz``, and
``summary.json`` when the scenario wrote one):

- what ran: scenario, patient, device and controller, seed, how and when the run ended;
- gait-cycle plots (``gait_cycle.png``): hip, knee and ankle angle per side, mean and SD band
  over the steady strides (``metrics.kinematics``), over the reference band: the healthy
  key-event curve of :mod:`gaitsim.control.reference` (Winter 2009; Perry & Burnfield 2010,
  about 1.3 m/s) +- ``REFERENCE_SD_DEG``;
- spatiotemporal, symmetry, stability and device tables (the rows of ``gaitsim run``'s table,
  one column per run) beside the healthy ranges of ``NORMAL_RANGES``;
- energy (``energy.png``): net metabolic rate and cost of transport, the device's positive
  and negative work;
- the course (``course.png``), when a run has one: each element's outcome and the session's
  success rates;
- with two or more runs, the trend across them (``trend.png``) of speed, step-length
  symmetry, peak knee flexion in swing and the course score, in the order given.

Plots are drawn on Matplotlib's Agg canvas without pyplot (no display, no global state).
The page has no scripts and loads nothing: images are ``data:`` URIs. Files are written
atomically.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaitsim._io import write_bytes, write_text
from gaitsim.constants import JOINTS, SIDES
from gaitsim.metrics import GaitSummary, summarize
from gaitsim.metrics.report import summary_rows
from gaitsim.sim.trace import Trace

#: Half-width of the reference band (deg): the order of the between-subject SD of healthy
#: sagittal hip, knee and ankle angles over the cycle (Kadaba, Ramakrishnan & Wootten 1990,
#: J Orthop Res 8:383) [memory: not read; REFERENCES.md section 6 lists open datasets that
#: would give a measured band].
REFERENCE_SD_DEG = 5.0

#: Healthy adult ranges at about 1.2-1.4 m/s (REFERENCES.md section 6: Winter 2009; Perry &
#: Burnfield 2010 [memory]; symmetry ratio upper limits: Patterson et al. 2010), keyed by the
#: table's row label.
NORMAL_RANGES: dict[str, str] = {
    "speed (m/s)": "1.2-1.4",
    "cadence (steps/min)": "100-120",
    "stride length (m)": "1.3-1.5",
    "step length (m)": "0.65-0.75",
    "stance (% stride)": "~60",
    "swing (% stride)": "~40",
    "double support (% stride)": "~20",
    "step length symmetry ratio": "<= 1.08",
    "swing time symmetry ratio": "<= 1.06",
    "stance time symmetry ratio": "<= 1.05",
    "peak knee flexion, swing (deg)": "60-65",
    "min toe clearance (m)": "0.01-0.02",
    "peak vertical GRF (BW)": "1.1-1.2",
}

#: Colours of the runs, in order (Matplotlib's tab10), and of the reference band.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_REFERENCE_COLOUR = "#bbbbbb"
_GOOD, _FAILED, _NOT_REACHED, _SCORED = "#2ca02c", "#d62728", "#999999", "#1f77b4"
_DPI = 100


class ReportInputError(ValueError):
    """A run folder cannot be reported on; the message names the folder and the file."""


@dataclass(frozen=True)
class ReviewRun:
    """One run to report on: its label (the folder's name), trace, summary and course score
    (``metrics.course.score_course``; None without a course)."""

    label: str
    trace: Trace
    summary: GaitSummary
    course: dict[str, Any] | None


def load_run(folder: Path) -> ReviewRun:
    """A run folder (``trace.npz``; ``summary.json`` when there is one) as a :class:`ReviewRun`.
    Without ``summary.json`` the metrics and course score are computed from the trace."""
    from gaitsim.metrics.course import score_course

    folder = Path(folder)
    trace_path = folder / "trace.npz"
    if not trace_path.is_file():
        raise ReportInputError(
            f"{folder}: no trace.npz (a run folder is what `gaitsim run SCENARIO --out DIR` "
            "writes with 'trace' in run.outputs)"
        )
    try:
        trace = Trace.load(trace_path)
    except (OSError, ValueError, KeyError) as exc:
        raise ReportInputError(f"{trace_path}: cannot read trace: {exc}") from None
    summary = summarize(trace)
    result_path = folder / "summary.json"
    if result_path.is_file():
        try:
            course = json.loads(result_path.read_text(encoding="utf-8"))["course"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReportInputError(f"{result_path}: cannot read its course score: {exc}") from None
    else:
        course = score_course(trace)
    return ReviewRun(folder.resolve().name, trace, summary, course)


def write_report(
    runs: Sequence[ReviewRun], out_dir: Path, title: str | None = None
) -> dict[str, Path]:
    """Write ``report.html`` and its PNGs under ``out_dir``; returns name -> path (``report``
    first). Raises ValueError for no runs."""
    if not runs:
        raise ValueError("a report needs at least one run")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = report_figures(runs)
    paths: dict[str, Path] = {"report": out_dir / "report.html"}
    for name, png in figures.items():
        paths[name] = write_bytes(out_dir / f"{name}.png", png)
    write_text(paths["report"], report_html(runs, figures, title))
    return paths


def report_figures(runs: Sequence[ReviewRun]) -> dict[str, bytes]:
    """The report's plots as PNG bytes, by name (the PNG's file stem)."""
    figures = {"gait_cycle": _gait_cycle_png(runs), "energy": _energy_png(runs)}
    if any(run.course for run in runs):
        figures["course"] = _course_png(runs)
    if len(runs) >= 2:
        figures["trend"] = _trend_png(runs)
    return figures


def report_html(
    runs: Sequence[ReviewRun], figures: dict[str, bytes], title: str | None = None
) -> str:
    """The page: run table, every figure embedded, metric and course tables."""
    title = title or (
        f"gaitsim report: {runs[0].label}"
        if len(runs) == 1
        else f"gaitsim report: {len(runs)} runs"
    )
    captions = {
        "gait_cycle": "Joint angles over the gait cycle (heel strike to heel strike), mean and "
        f"SD band over steady strides; grey: healthy reference +- {REFERENCE_SD_DEG:g} deg "
        "(about 1.3 m/s; slower walking flattens the healthy curves too).",
        "energy": "Net metabolic rate (Umberger 2003 model) and cost of transport; device "
        "motor work, positive and negative, over the run. The modelled rates are several times "
        "those measured in people (healthy walking: about 3 W/kg net, Waters & Mulroy 1999 "
        "[memory]): the reflex gait "
        "co-contracts. Compare conditions with them, not absolute values.",
        "course": "Course elements in order: outcome per element (green: avoided or hit as "
        "asked, red: failed, grey: not reached).",
        "trend": "Across the runs, in the order given.",
    }
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
        "padding:2px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
        "img{max-width:100%}figcaption{color:#555;font-size:0.9em}</style>",
        "</head><body>",
        f"<h1>{_e(title)}</h1>",
        "<h2>Runs</h2>",
        _runs_table(runs),
    ]
    for name, png in figures.items():
        heading = {
            "gait_cycle": "Gait cycle",
            "energy": "Energy",
            "course": "Course",
            "trend": "Trend",
        }[name]
        data = base64.b64encode(png).decode("ascii")
        parts += [
            f"<h2>{heading}</h2>",
            f'<figure id="{name}"><img alt="{_e(heading)}" src="data:image/png;base64,{data}">',
            f"<figcaption>{_e(captions[name])}</figcaption></figure>",
        ]
        if name == "course":
            parts.append(_course_table(runs))
    parts += ["<h2>Gait metrics</h2>", _metrics_table(runs), "</body></html>", ""]
    return "\n".join(parts)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _runs_table(runs: Sequence[ReviewRun]) -> str:
    rows = []
    for run in runs:
        meta = run.trace.meta
        scenario = meta["scenario"]
        patient, device, end = scenario["patient"], scenario["device"], meta["termination"]
        who = (
            f"{patient.get('preset') or 'custom'} ({patient['condition']}, paretic "
            f"{patient['paretic_side']}, severity {patient['severity']:g})"
        )
        body = meta["body"]
        dev = "none" if device["kind"] == "none" else f"{device['kind']}: {device['controller']}"
        rows.append(
            [
                run.label,
                scenario["name"],
                who,
                f"{body['height_m']:.2f} m, {body['mass_kg']:.1f} kg",
                dev,
                meta["seed"],
                f"{end['reason']} at {end['time_s']:.2f} s {end.get('detail') or ''}".strip(),
            ]
        )
    return _table(["run", "scenario", "patient", "body", "device", "seed", "ended"], rows)


def _metrics_table(runs: Sequence[ReviewRun]) -> str:
    """One row per metric of ``gaitsim run``'s table; per run ``left / right`` or the value
    for both sides; the healthy range in the last column."""
    tables = [summary_rows(run.summary.to_dict()) for run in runs]
    labels = list(dict.fromkeys(row[0] for table in tables for row in table))
    by_run = [{row[0]: row for row in table} for table in tables]
    rows = []
    for label in labels:
        cells = [label]
        for lookup in by_run:
            row = lookup.get(label)
            cells.append("-" if row is None else _cell_text(row))
        cells.append(NORMAL_RANGES.get(label, ""))
        rows.append(cells)
    return _table(["metric", *[r.label for r in runs], "healthy"], rows)


def _cell_text(row: tuple[str, Any, Any, Any, str]) -> str:
    _, left, right, both, fmt = row

    def cell(value: Any) -> str:
        return "-" if value is None else fmt.format(value)

    if left is None and right is None:
        return cell(both)
    text = f"{cell(left)} / {cell(right)}"
    return text if both is None else f"{text} ({cell(both)})"


def _course_table(runs: Sequence[ReviewRun]) -> str:
    rows = []
    for run in runs:
        course = run.course
        if not course:
            continue
        session = course["session"]
        cells = [run.label]
        for key, good in (
            ("obstacles", "avoided"),
            ("pedestrians", "avoided"),
            ("boxes", "avoided"),
            ("terrain", "crossed"),
        ):
            cells.append(_rate_text(course.get(key), good))
        targets = course.get("targets")
        for side in ("all", "left", "right"):
            cells.append(_rate_text(targets[side] if targets else None, "hit"))
        causes = course.get("obstacles", {}).get("hits_by_cause", {})
        cells.append(", ".join(f"{n} {c}" for c, n in causes.items() if n) or "-")
        planned = course.get("planned_steps")
        cells.append(
            "-"
            if planned is None
            else f"{100 * planned['error_mean_m']:+.1f} ± {100 * planned['error_sd_m']:.1f} cm "
            f"({100 * planned['within_tol_fraction']:.0f} % within {100 * planned['tol_m']:.0f} cm)"
        )
        score = session["score_pct"]
        cells.append(
            "-" if score is None else f"{score:.0f} % ({session['successes']}/{session['judged']})"
        )
        rows.append(cells)
    header = [
        "run",
        "obstacles avoided",
        "pedestrians avoided",
        "boxes avoided",
        "terrain crossed",
        "targets hit",
        "targets hit, left",
        "targets hit, right",
        "obstacle hits by cause",
        "planned steps from plan",
        "session score",
    ]
    # only the kinds of element some run has
    keep = [
        c
        for c in range(len(header))
        if c in (0, len(header) - 1) or any(row[c] != "-" for row in rows)
    ]
    return _table([header[c] for c in keep], [[row[c] for c in keep] for row in rows])


def _rate_text(rate: dict[str, Any] | None, good: str) -> str:
    if not rate or not rate["judged"]:
        return "-"
    return f"{rate[good]}/{rate['judged']} ({100 * rate['success_rate']:.0f} %)"


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _figure(nrows: int, ncols: int, figsize: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    """A Matplotlib figure drawn by the Agg canvas and its axes grid: no pyplot, so no global
    backend is switched and no figure is left open in the caller's process."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _side_label(run: ReviewRun, side: str) -> str:
    paretic = run.trace.meta["scenario"]["patient"]["paretic_side"]
    return f"{side} (paretic)" if paretic in (side, "both") else side


def _gait_cycle_png(runs: Sequence[ReviewRun]) -> bytes:
    from gaitsim.control.reference import angle

    fig, axes = _figure(len(JOINTS), 2, (10, 8), sharex=True, squeeze=False)
    phase = np.linspace(0.0, 1.0, 101)
    for r, joint in enumerate(JOINTS):
        reference = np.degrees(np.asarray(angle(joint, phase)[0], dtype=float))
        for c, side in enumerate(SIDES):
            ax = axes[r][c]
            ax.fill_between(
                100 * phase,
                reference - REFERENCE_SD_DEG,
                reference + REFERENCE_SD_DEG,
                color=_REFERENCE_COLOUR,
                alpha=0.6,
                lw=0,
                label="healthy reference" if r == c == 0 else None,
            )
            for k, run in enumerate(runs):
                curve = run.summary.curves.get(f"{joint}_{side}")
                if curve is None or curve.n_strides == 0:
                    continue
                colour = _COLOURS[k % len(_COLOURS)]
                mean, sd = np.degrees(curve.mean), np.degrees(curve.sd)
                ax.plot(
                    curve.percent,
                    mean,
                    color=colour,
                    lw=1.6,
                    label=f"{run.label} ({curve.n_strides} strides)" if r == 0 else None,
                )
                if curve.n_strides >= 2:
                    ax.fill_between(
                        curve.percent, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0
                    )
            ax.set_title(f"{joint}, {_side_label(runs[0], side)}", fontsize=10)
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_ylabel(f"{joint} angle (deg)")
            if r == len(JOINTS) - 1:
                ax.set_xlabel("gait cycle (%)")
            if r == 0 and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Sagittal joint angles: flexion / dorsiflexion positive", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def _energy_png(runs: Sequence[ReviewRun]) -> bytes:
    fig, axes = _figure(1, 3, (10, 3.4))
    labels = [run.label for run in runs]
    x = np.arange(len(runs))
    colours = [_COLOURS[k % len(_COLOURS)] for k in x]
    metabolic = [run.summary.metabolic or {} for run in runs]
    for ax, key, title in (
        (axes[0], "net_w_kg", "net metabolic rate (W/kg)"),
        (axes[1], "cost_of_transport_j_kg_m", "cost of transport (J/kg/m)"),
    ):
        values = [_nan(m.get(key)) for m in metabolic]
        ax.bar(x, values, color=colours)
        ax.set_title(title, fontsize=10)
    positive, negative = [], []
    for run in runs:
        modules = (run.summary.device or {}).values()
        positive.append(sum(_nan(m["positive_work_j"]) for m in modules))
        negative.append(sum(_nan(m["negative_work_j"]) for m in modules))
    axes[2].set_title("device work (J)", fontsize=10)
    if any(run.summary.device for run in runs):
        axes[2].bar(x, positive, color=colours, label="positive")
        axes[2].bar(x, negative, color=colours, alpha=0.45, label="negative")
        axes[2].axhline(0.0, color="k", lw=0.6)
        axes[2].legend(fontsize=7)
    else:
        axes[2].text(
            0.5,
            0.5,
            "no device",
            ha="center",
            va="center",
            transform=axes[2].transAxes,
            color="#777777",
        )
        axes[2].set_yticks([])
    for ax in axes:
        ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _course_png(runs: Sequence[ReviewRun]) -> bytes:
    with_course = [(run.label, run.course) for run in runs if run.course]
    fig, ax = _figure(1, 1, (10, 0.6 + 0.5 * len(with_course)))
    for row, (_, course) in enumerate(with_course):
        for element in course["elements"]:
            colour = _outcome_colour(element["kind"], element.get("outcome", "not_reached"))
            marker = "o" if element["kind"] == "target" else "s"
            ax.scatter(element["element"], row, c=colour, marker=marker, s=40)
    ax.set_yticks(range(len(with_course)), [label for label, _ in with_course], fontsize=8)
    ax.set_ylim(-0.6, len(with_course) - 0.4)
    ax.set_xlabel("course element (squares: obstacles and physical elements, circles: targets)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _outcome_colour(kind: str, outcome: str) -> str:
    """Green for what the element asks (a target hit, an obstacle avoided, terrain crossed),
    grey when not reached, blue for a walking area's score, red for a failure."""
    if outcome == "not_reached":
        return _NOT_REACHED
    if outcome == "scored":
        return _SCORED
    good = outcome == "hit" if kind == "target" else outcome in ("avoided", "crossed")
    return _GOOD if good else _FAILED


def _trend_png(runs: Sequence[ReviewRun]) -> bytes:
    x = np.arange(1, len(runs) + 1)
    panels: list[tuple[str, list[float]]] = [
        ("speed (m/s)", [_nan(run.summary.speed_m_s) for run in runs]),
        (
            "step length symmetry ratio",
            [_nan(run.summary.symmetry["step_length_m"]["ratio"]) for run in runs],
        ),
        (
            "knee flexion in swing (deg), lower side",
            [_min_side(run.summary.peak_knee_flexion_swing_deg) for run in runs],
        ),
    ]
    scores = [(run.course or {}).get("session", {}).get("score_pct") for run in runs]
    if any(s is not None for s in scores):
        panels.append(("course session score (%)", [_nan(s) for s in scores]))
    fig, axes = _figure(1, len(panels), (3.0 * len(panels), 3.2), squeeze=False)
    for ax, (title, values) in zip(axes[0], panels, strict=True):
        ax.plot(x, values, "o-", color=_COLOURS[0])
        ax.set_title(title, fontsize=9)
        ax.set_xticks(x, [run.label for run in runs], rotation=30, ha="right", fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _min_side(values: Any) -> float:
    finite = [float(v) for v in values.values() if v is not None and math.isfinite(v)]
    return min(finite) if finite else float("nan")

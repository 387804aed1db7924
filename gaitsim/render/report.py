"""A short Markdown report of a run for review: what was simulated, how it ended, the gait.

Plots against normative curves and side-by-side comparisons come with the review issue.
"""

from __future__ import annotations

from typing import Any

from gaitsim.metrics import GaitSummary, format_table
from gaitsim.sim.trace import Trace


def markdown_report(trace: Trace, summary: GaitSummary, files: dict[str, str]) -> str:
    """The report as Markdown text. ``files`` maps a label to a path written beside it."""
    scenario: dict[str, Any] = trace.meta["scenario"]
    patient = scenario["patient"]
    end = trace.meta["termination"]
    body = trace.meta["body"]
    lines = [
        f"# gaitsim run: {scenario['name']}",
        "",
        scenario.get("description") or "",
        "",
        "| | |",
        "|---|---|",
        f"| patient | {patient.get('preset') or 'custom'} ({patient['condition']}, "
        f"paretic side {patient['paretic_side']}, severity {patient['severity']:g}) |",
        f"| body | {body['height_m']:.2f} m, {body['mass_kg']:.1f} kg, "
        f"leg length {body['leg_length_m']:.3f} m |",
        f"| controller | {scenario['controller']['kind']} |",
        f"| seed | {trace.meta['seed']} |",
        f"| physics step | {trace.meta['physics_step_s'] * 1000:g} ms |",
        f"| ended | **{end['reason']}** at {end['time_s']:.3f} s {end['detail']} |",
        "| versions | " + ", ".join(f"{k} {v}" for k, v in trace.meta["versions"].items()) + " |",
        "",
        "## Gait summary",
        "",
        "```",
        format_table(summary),
        "```",
        "",
        "## Files",
        "",
        *[f"- {label}: `{path}`" for label, path in files.items()],
        "",
    ]
    return "\n".join(lines)

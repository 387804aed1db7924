"""What the ``gaitsim`` command and its sub-modules (``env.commands``, ``hardware.commands``)
share: the bad-input error, scenario loading, the output-folder check and the seed option. A
module of its own, so that the sub-modules need not import ``gaitsim.cli`` (which registers
them: a cycle when it runs as ``python -m gaitsim.cli``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gaitsim import catalogue
from gaitsim.spec import Scenario, ScenarioError


class BadInput(click.ClickException):
    """Bad input from the user: exit code 2 and the message alone (no usage banner)."""

    exit_code = 2


def load_scenario(name_or_path: str) -> Scenario:
    """Load and validate a scenario, including the controller parameter file it names."""
    from gaitsim import spec
    from gaitsim.control.devices import ControllerConfigError, load_config
    from gaitsim.neural.parameters import ParameterError

    try:
        scenario = spec.load(catalogue.resolve_scenario(name_or_path))
        if scenario.controller.kind == "reflex":
            from gaitsim.neural import controller as rc

            rc.load_parameter_file(rc.resolve_parameter_file(scenario.controller.parameters))
        if scenario.device.kind != "none":
            try:
                load_config(scenario.device.controller, scenario.device.controller_settings)
            except ControllerConfigError as exc:
                raise ControllerConfigError(
                    f"{name_or_path}: device.controller = {scenario.device.controller!r}: {exc}"
                ) from None
        return scenario
    except (ScenarioError, ParameterError, ControllerConfigError, FileNotFoundError) as exc:
        raise BadInput(str(exc)) from None


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder that cannot be made, before spending time on a run."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"--out {out_dir}: exists and is not a directory")
    ancestor = out_dir.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out_dir}: cannot create it inside {ancestor}")


seed_option = click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=None,
    help="Seed of the run (default: the scenario's run.seed).",
)

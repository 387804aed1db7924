"""Device controllers: the families, and loading a configuration file into a Controller.

A configuration is a TOML file in controllers/ (or a path) with ``kind`` naming the family;
the family module has a ``Config`` (its validated fields) and
``make(config, device, rate_hz) -> Controller``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from gaitsim.catalogue import resolve
from gaitsim.control import transparent
from gaitsim.control.config import ControllerConfig
from gaitsim.control.interface import Controller
from gaitsim.model.devices import BuiltDevice

FAMILIES: dict[str, ModuleType] = {"transparent": transparent}


class ControllerConfigError(ValueError):
    """A device-controller configuration is invalid (names the file, the field and what is
    allowed)."""


def load_config(name_or_path: str) -> ControllerConfig:
    """Read and validate a device-controller configuration."""
    path = resolve("controllers", name_or_path, ".toml")
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ControllerConfigError(
            f"{source}: cannot read controller configuration: {exc}"
        ) from None
    kind = data.get("kind")
    if kind not in FAMILIES:
        raise ControllerConfigError(
            f"{source}: kind = {kind!r}: unknown controller family; "
            f"allowed: {', '.join(sorted(FAMILIES))}"
        )
    try:
        return FAMILIES[kind].Config.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ControllerConfigError("\n".join(lines)) from None


def device_controller(name_or_path: str, device: BuiltDevice, rate_hz: float) -> Controller:
    """The controller of a configuration file for ``device``, called at ``rate_hz``."""
    config = load_config(name_or_path)
    return FAMILIES[config.kind].make(config, device, rate_hz)

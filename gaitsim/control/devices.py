"""Device controllers: the families, and loading a configuration file into a Controller.

A configuration is a TOML file in controllers/ (or a path) with ``kind`` naming the family;
the family module has a ``Config`` (its validated fields) and
``make(config, context: DeviceContext) -> Controller``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from gaitsim.catalogue import resolve
from gaitsim.control import aan, custom, guidance, policy, profile, transparent
from gaitsim.control.config import ControllerConfig, ControllerConfigError, DeviceContext
from gaitsim.control.interface import Controller
from gaitsim.spec import Device

FAMILIES: dict[str, ModuleType] = {
    "assist-as-needed": aan,
    "custom": custom,
    "guidance": guidance,
    "policy": policy,
    "profile": profile,
    "transparent": transparent,
}


def load_config(name_or_path: str, settings: Mapping[str, Any] | None = None) -> ControllerConfig:
    """Read and validate a device-controller configuration, ``settings`` replacing its fields
    (a scenario's ``device.controller_settings``)."""
    path = resolve("controllers", name_or_path, ".toml")
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ControllerConfigError(
            f"{source}: cannot read controller configuration: {exc}"
        ) from None
    data.update(settings or {})
    kind = data.get("kind")
    if kind not in FAMILIES:
        raise ControllerConfigError(
            f"{source}: kind = {kind!r}: unknown controller family; "
            f"allowed: {', '.join(sorted(FAMILIES))}"
        )
    # files a configuration names (a policy's weights) are found next to it first
    for field in getattr(FAMILIES[kind], "FILE_FIELDS", ()):
        if isinstance(data.get(field), str) and (Path(path).parent / data[field]).is_file():
            data[field] = str(Path(path).parent / data[field])
    try:
        return FAMILIES[kind].Config.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ControllerConfigError("\n".join(lines)) from None


def device_controller(
    name_or_path: str, context: DeviceContext, settings: Mapping[str, Any] | None = None
) -> Controller:
    """The controller of a configuration file (with ``settings`` replacing its fields) for
    the device and wearer of ``context``."""
    config = load_config(name_or_path, settings)
    return FAMILIES[config.kind].make(config, context)


def fits(config: ControllerConfig, device: Device) -> bool:
    """Whether a configuration can drive ``device`` (a family without a ``fits`` drives any)."""
    family = FAMILIES[config.kind]
    check = getattr(family, "fits", None)
    return device.kind != "none" and (check is None or bool(check(config, device)))


__all__ = ["FAMILIES", "ControllerConfigError", "device_controller", "fits", "load_config"]

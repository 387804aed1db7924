"""Your own controller: a Python file with three functions, named by a configuration file.

The file defines::

    def params(context, **settings):  # -> the params pytree (numbers, arrays)
    def init(params, spec):           # -> the initial state pytree
    def step(params, state, obs):     # -> (state, torque per module, N m)

``step`` must be traceable by JAX (``jax.numpy``, no Python branching on values); ``obs`` is
the device's measurement dict (:func:`gaitsim.sim.device.device_layout`) and ``context`` the
:class:`gaitsim.control.config.DeviceContext` (device modules, rate, body size). The
configuration names the file (``module``, relative to the configuration) and passes
``settings`` to ``params``. See the README's "Writing your own controller".
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

from pydantic import Field

from gaitsim.control.config import ControllerConfig, ControllerConfigError, DeviceContext
from gaitsim.control.interface import Controller

#: fields naming files, found next to the configuration file first
FILE_FIELDS = ("module",)


class Config(ControllerConfig):
    """``kind = "custom"``."""

    module: str
    settings: Annotated[dict[str, float], Field(strict=False)] = {}


_MODULES: dict[tuple[str, float], ModuleType] = {}


def load_module(path: Path) -> ModuleType:
    """The controller module at ``path``, loaded once per file version (compiled loops are
    cached per ``step`` function, so a reload only happens when the file changes)."""
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError as exc:
        raise ControllerConfigError(f"module = {str(path)!r}: cannot read it: {exc}") from None
    if key not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"gaitsim_custom_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ControllerConfigError(f"module = {str(path)!r}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        missing = [f for f in ("params", "init", "step") if not callable(getattr(module, f, None))]
        if missing:
            raise ControllerConfigError(
                f"module = {str(path)!r}: defines no {', '.join(missing)} (needs params, init, "
                "step)"
            )
        _MODULES[key] = module
    return _MODULES[key]


def make(config: Config, context: DeviceContext) -> Controller:
    module = load_module(Path(config.module))
    params: Any = module.params(context, **config.settings)
    return Controller(Path(config.module).stem, module.init, module.step, params, context.rate_hz)

"""Device-controller configurations: one TOML file per configuration in controllers/.

A file names its family with ``kind`` and sets that family's fields; every family's fields
are validated (unknown keys and out-of-range values are errors naming the file and field).
``gaitsim.control.devices`` maps a kind to its family.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ControllerConfig(BaseModel):
    """Fields every device-controller configuration has."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: str
    description: str = ""

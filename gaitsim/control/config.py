"""Device-controller configurations: one TOML file per configuration in controllers/.

A file names its family with ``kind`` and sets that family's fields; every family's fields
are validated (unknown keys and out-of-range values are errors naming the file and field).
``gaitsim.control.devices`` maps a kind to its family.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from gaitsim.model.devices import BuiltDevice


class ControllerConfigError(ValueError):
    """A device-controller configuration is invalid (names the file, the field and what is
    allowed)."""


class ControllerConfig(BaseModel):
    """Fields every device-controller configuration has."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: str
    description: str = ""


@dataclass(frozen=True)
class DeviceContext:
    """What a device controller is built for: the device, its loop rate, the wearer's size
    (torques are often set per kg, trajectories per leg length) and a treadmill's speed."""

    device: BuiltDevice
    rate_hz: float
    mass_kg: float
    height_m: float
    belt_speed_m_s: float | None = None  # on a treadmill
    emg_channels: int = 0  # EMG envelopes among the measurements (one per muscle)

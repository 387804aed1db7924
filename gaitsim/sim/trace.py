"""The Trace: a run's columnar time series, events and metadata, saved as one compressed file.

Channels (all with leading dimension T = len(time_s); names in ``gaitsim.constants``):

- ``{hip,knee,ankle}_{left,right}_angle_rad`` / ``..._velocity_rad_s``: clinical signs
  (hip flexion +, knee flexion +, ankle dorsiflexion +).
- ``pelvis_pos_m`` (T, 3), ``pelvis_pitch_rad``, ``trunk_pitch_rad``, ``trunk_pitch_rate_rad_s``
  (forward pitch +, from vertical).
- ``com_pos_m``, ``com_vel_m_s`` (T, 3): whole-body centre of mass, world frame.
- ``{thigh,shank,foot}_{side}_pos_m`` (T, 3): segment frame origin (its proximal joint);
  ``..._angle_rad``: segment rotation from standing, distal end forward/up +.
- ``grf_{side}_n`` (T, 3): summed ground contact force on the foot, world frame (x forward,
  y left, z up).
- ``cop_{side}_m`` (T, 3): centre of pressure under the foot (zeros when unloaded).
- ``heel_{side}_pos_m``, ``toe_{side}_pos_m`` (T, 3): lowest point of the heel/toe contact
  sphere, world frame; z is the height above flat ground.
- ``muscle_excitation``, ``muscle_activation``, ``muscle_length_m`` (musculotendon length),
  ``muscle_velocity_m_s``, ``muscle_force_n`` (tension +) (T, M), columns in
  ``meta["muscle_names"]`` order.

- on a treadmill, ``belt_pos_m`` and ``belt_velocity_m_s`` (T,): the belt's displacement and
  velocity (negative: it runs backwards); gait metrics take positions relative to the belt.
- in a gait trainer, ``support_force_n`` (T,): the harness's body-weight support (N, up).
- with a device, per module ``device_{side}_{joint}_{command_nm,torque_nm,interaction_nm,
  angle_rad,velocity_rad_s}`` (``gaitsim.sim.record``): the controller's command, the motor's
  torque, the torque on the joint through the cuff, the module's angle and speed.

``meta`` is JSON: scenario (dict), scenario_name, seed, versions, physics_step_s,
record_step_s, body {mass_kg (the person's), height_m, leg_length_m}, muscle_names, muscles
{gainprm, lengthrange, rho: per muscle, for the energetics}, device (None, or {modules,
actuators, peak_torque_nm, continuous_torque_nm, max_speed_rad_s, mass_kg}), termination
{reason, time_s, detail}, transient_s (start transient the gait metrics leave out) and, when
MuJoCo warned, mujoco_warnings (their text).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gaitsim._io import atomic_path

_CHANNEL_PREFIX = "ch:"
_FORMAT = "gaitsim-trace/1"


@dataclass(frozen=True)
class Event:
    """Something that happened at a time: a fall, a controller switch, a cue."""

    time_s: float
    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"time_s": self.time_s, "kind": self.kind, "detail": dict(self.detail)}


@dataclass(frozen=True)
class Trace:
    """Recorded time series of one run. Immutable by convention: arrays are set read-only."""

    time_s: np.ndarray
    channels: Mapping[str, np.ndarray]
    events: tuple[Event, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.time_s)
        for name, arr in self.channels.items():
            if arr.shape[:1] != (n,):
                raise ValueError(
                    f"trace channel {name!r} has {arr.shape[0] if arr.ndim else 0} rows; "
                    f"time_s has {n}"
                )
            arr.flags.writeable = False
        self.time_s.flags.writeable = False

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.channels[name]
        except KeyError:
            raise KeyError(f"trace has no channel {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.channels

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def dt_s(self) -> float:
        """Recording interval (s)."""
        return float(self.meta.get("record_step_s", np.median(np.diff(self.time_s))))

    def muscle(self, channel: str, muscle: str) -> np.ndarray:
        """One muscle's column of a muscle channel, e.g. ``("muscle_force_n", "left_sol")``."""
        names = list(self.meta["muscle_names"])
        return self[channel][:, names.index(muscle)]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the trace as one compressed ``.npz`` (no pickle), atomically: no half file."""
        path = Path(path)
        meta = dict(self.meta)
        meta["format"] = _FORMAT
        meta["events"] = [e.to_dict() for e in self.events]
        arrays: dict[str, Any] = {"time_s": np.asarray(self.time_s)}
        arrays.update({_CHANNEL_PREFIX + k: np.asarray(v) for k, v in self.channels.items()})
        arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trace:
        """Read a trace written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta_json"]).decode())
            if meta.pop("format", None) != _FORMAT:
                raise ValueError(f"{path}: not a gaitsim trace (expected format {_FORMAT})")
            events = tuple(Event(**e) for e in meta.pop("events", []))
            channels = {
                k[len(_CHANNEL_PREFIX) :]: data[k]
                for k in data.files
                if k.startswith(_CHANNEL_PREFIX)
            }
            return cls(time_s=data["time_s"], channels=channels, events=events, meta=meta)

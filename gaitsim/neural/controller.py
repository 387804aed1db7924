"""The patient's reflex controller for a given patient: parameters from a file and the spec.

A parameter file (``controllers/*.json``, format ``gaitsim-reflex/1``) holds the reflex gains
per leg and the initial state the gait starts from (both found by tuning). Patient-specific
numbers (muscle sizes, spasticity, descending drive, delays) come from the scenario's patient.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from gaitsim import constants as C
from gaitsim.catalogue import resolve
from gaitsim.control.interface import Controller
from gaitsim.model import muscles as M
from gaitsim.neural import reflex
from gaitsim.neural.parameters import (
    Param,
    ParameterError,
    mapping_from_vector,
    nominal,
    read_json,
    vector_from_mapping,
    write_json,
)
from gaitsim.spec import Patient

FORMAT = "gaitsim-reflex/1"

_DEG = np.pi / 180
#: The initial state a gait starts from: forward speed, trunk pitch and leg joint angles
#: (clinical signs). Nominal: mid-stance of the left leg with the right leg in early swing.
INITIAL_STATE: tuple[Param, ...] = (
    Param("pelvis_velocity_m_s", 1.25, 0.3, 2.0, "m/s"),
    Param("trunk_pitch_rad", 5 * _DEG, -10 * _DEG, 25 * _DEG, "rad"),
    Param("left_hip_rad", 5 * _DEG, -25 * _DEG, 40 * _DEG, "rad"),
    Param("left_knee_rad", 5 * _DEG, 0.0, 40 * _DEG, "rad"),
    Param("left_ankle_rad", 0.0, -25 * _DEG, 20 * _DEG, "rad"),
    Param("right_hip_rad", -10 * _DEG, -25 * _DEG, 40 * _DEG, "rad"),
    Param("right_knee_rad", 40 * _DEG, 0.0, 80 * _DEG, "rad"),
    Param("right_ankle_rad", -5 * _DEG, -25 * _DEG, 20 * _DEG, "rad"),
)


def resolve_parameter_file(name_or_path: str) -> Path:
    """A file name in the controllers/ catalogue, or a path (:func:`gaitsim.catalogue.resolve`)."""
    try:
        return resolve("controllers", name_or_path, ".json")
    except FileNotFoundError as exc:
        raise ParameterError(f"controller parameters {exc}") from None


def load_parameter_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """(reflex (2, P) left/right, initial state (S,), the whole document) from a JSON file."""
    data = read_json(path)
    if data.get("format") != FORMAT:
        raise ParameterError(f"{path}: format = {data.get('format')!r}: expected {FORMAT!r}")
    gains = data.get("reflex")
    if not isinstance(gains, dict) or set(gains) != {"left", "right"}:
        raise ParameterError(f"{path}: reflex must map 'left' and 'right' to parameter sets")
    reflex_lr = np.stack(
        [
            vector_from_mapping(reflex.REFLEX_PARAMETERS, gains[s], f"{path}: reflex.{s}")
            for s in C.SIDES
        ]
    )
    initial = vector_from_mapping(
        INITIAL_STATE, data.get("initial_state", {}), f"{path}: initial_state"
    )
    return reflex_lr, initial, data


def parameter_document(reflex_lr: np.ndarray, initial: np.ndarray, **extra: Any) -> dict:
    """The JSON document of a parameter set (inverse of :func:`load_parameter_file`)."""
    return {
        "format": FORMAT,
        **extra,
        "reflex": {
            s: mapping_from_vector(reflex.REFLEX_PARAMETERS, reflex_lr[i])
            for i, s in enumerate(C.SIDES)
        },
        "initial_state": mapping_from_vector(INITIAL_STATE, initial),
    }


def save_parameter_file(
    path: str | os.PathLike[str], reflex_lr: np.ndarray, initial: np.ndarray, **extra: Any
) -> Path:
    """Write a parameter file atomically."""
    return write_json(path, parameter_document(reflex_lr, initial, **extra))


def mirror(reflex_lr: np.ndarray, initial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right exchanged (a right-paretic patient from a left-paretic tuning)."""
    names = [p.name for p in INITIAL_STATE]
    swapped = initial.copy()
    for j in C.JOINTS:
        a, b = names.index(f"left_{j}_rad"), names.index(f"right_{j}_rad")
        swapped[a], swapped[b] = initial[b], initial[a]
    return reflex_lr[::-1].copy(), swapped


def nominal_parameters() -> tuple[np.ndarray, np.ndarray]:
    """The generic start: nominal gains on both legs, nominal initial state."""
    gains = nominal(reflex.REFLEX_PARAMETERS)
    return np.stack([gains, gains]), nominal(INITIAL_STATE)


def patient_params(patient: Patient, reflex_lr: np.ndarray, rate_hz: float) -> dict:
    """The controller's params pytree for a patient (float32; ``ticks`` int32)."""
    fmax, fibre, gain, threshold, drive = [], [], [], [], []
    for side in C.SIDES:
        for muscle in C.MUSCLES:
            # feedback is normalised by the size-scaled healthy force: a weak muscle gives
            # proportionally weaker force feedback through unchanged gains
            m = M.scaled(muscle, patient.height_m, patient.mass_kg)
            sp = patient.spasticity_of(muscle, side)
            fmax.append(m.fmax_n)
            # fibre velocity = rho x musculotendon velocity (rigid tendon, GH2010 rho)
            fibre.append(M.effective_fibre_length(muscle, m.lopt_m))
            gain.append(0.0 if sp is None else sp.gain)
            threshold.append(0.0 if sp is None else sp.velocity_threshold_lopt_s)
            drive.append(max(patient.drive_of(side), reflex.PRE_STIMULATION))
    scale = (patient.delay_scale_of("left"), patient.delay_scale_of("right"))
    return {
        "reflex": jnp.asarray(reflex_lr, jnp.float32),
        "muscle": jnp.asarray([fmax, fibre, gain, threshold], jnp.float32),
        "drive": jnp.asarray(drive, jnp.float32),
        "body_weight_n": jnp.asarray(patient.mass_kg * C.G_M_S2, jnp.float32),
        "ticks": jnp.asarray(reflex.delay_ticks(rate_hz, scale), jnp.int32),
    }


def reflex_controller(patient: Patient, reflex_lr: np.ndarray, rate_hz: float) -> Controller:
    """The reflex controller of ``patient`` with gains ``reflex_lr`` (left, right)."""
    history = reflex.history_length(rate_hz)
    params = patient_params(patient, reflex_lr, rate_hz)
    # a gather beyond the ring buffer would silently clamp to the wrong delay
    assert int(params["ticks"].max()) < history, "neural delay longer than the delay line"
    return Controller("reflex", partial(reflex.init, history=history), reflex.step, params, rate_hz)

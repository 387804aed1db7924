"""Patient presets: named starting points a scenario references and overrides.

Numbers and their sources:

- Weakness of the paretic side as a uniform reduction of max isometric force by 20 %, 40 %
  and 60 % for mild, moderate and severe hemiparesis, after the predictive simulations of
  Johnson, Bianco & Finley 2022 (PLOS Comput Biol 18:e1010466), which used exactly these
  three levels.
- Spasticity as an exaggerated velocity-dependent stretch reflex of GAS, SOL, VAS and RF,
  not suppressed in swing (Jansen et al. 2014, JNER 11:78; definition after Lance 1980). Gain
  magnitude anchored to SCONE's spasticity example (extra gastrocnemius reflex gain 2 at
  severe, Geijtenbeek 2019, SCONE "Tutorial 5c"); the mild/moderate steps and the velocity
  thresholds are a modelling choice (lower threshold with severity, as the clinical catch
  appears at lower stretch velocity in more spastic muscles).
- Contracture of the plantarflexors as shorter optimal fibre length (Gao et al. 2009, Arch
  Phys Med Rehabil 90:819, shorter gastrocnemius fascicles on the impaired side)
  [memory: magnitude is a modelling choice, 5 % moderate, 10 % severe].
- Extra passive joint stiffness at the paretic ankle and knee: a modelling choice standing
  for increased non-reflex stiffness after stroke (Gao 2009); values are small against the
  joint's own passive moment so they shape, not freeze, the joint.
- Descending drive (fraction of healthy supraspinal excitation; the reflex controller caps the
  side's excitations at it) is a modelling choice: mild 0.85, moderate 0.7, severe 0.5.
- Incomplete SCI: bilateral, distal-dominant weakness (plantarflexors and dorsiflexors weakest,
  then knee, then hip muscles), after Jayaraman et al. 2006 (Spinal Cord 44:680) [memory:
  pattern read from the abstract's summary; fractions are a modelling choice].

Right-sided presets are the left-sided ones mirrored (:func:`mirror`).
"""

from __future__ import annotations

from typing import Any

from gaitsim.constants import MUSCLES

_SPASTIC = ("gas", "sol", "vas", "rf")
_PLANTARFLEXORS = ("gas", "sol")

# severity, strength fraction, spasticity gain, velocity threshold (lopt/s),
# plantarflexor fibre scale, extra ankle / knee stiffness (N m/rad), descending drive
_HEMIPARETIC_LEVELS: dict[str, tuple[float, float, float, float, float, float, float, float]] = {
    "mild": (0.3, 0.8, 0.5, 0.3, 1.0, 0.0, 0.0, 0.85),
    "moderate": (0.6, 0.6, 1.0, 0.2, 0.95, 5.0, 2.0, 0.7),
    "severe": (0.9, 0.4, 2.0, 0.1, 0.9, 10.0, 5.0, 0.5),
}


def _hemiparetic(level: str) -> dict[str, Any]:
    sev, strength, gain, thr, fibre, k_ankle, k_knee, drive = _HEMIPARETIC_LEVELS[level]
    side = "left"
    return {
        "condition": "hemiparetic",
        "paretic_side": side,
        "severity": sev,
        "strength": {side: {m: strength for m in MUSCLES}},
        "spasticity": {
            side: {m: {"gain": gain, "velocity_threshold_lopt_s": thr} for m in _SPASTIC}
        },
        "contracture": {side: {m: {"fibre_length_scale": fibre} for m in _PLANTARFLEXORS}},
        "passive_stiffness_nm_rad": {side: {"ankle": k_ankle, "knee": k_knee}},
        "descending_drive": {side: drive},
    }


def _incomplete_sci() -> dict[str, Any]:
    strength = {
        "gmax": 0.8,
        "ilpso": 0.8,
        "hams": 0.7,
        "rf": 0.7,
        "vas": 0.7,
        "bfsh": 0.7,
        "gas": 0.4,
        "sol": 0.4,
        "ta": 0.4,
    }
    spastic = {m: {"gain": 1.0, "velocity_threshold_lopt_s": 0.2} for m in _PLANTARFLEXORS}
    return {
        "condition": "incomplete-sci",
        "paretic_side": "both",
        "severity": 0.5,
        "strength": {s: dict(strength) for s in ("left", "right")},
        "spasticity": {s: dict(spastic) for s in ("left", "right")},
        "passive_stiffness_nm_rad": {s: {"ankle": 5.0} for s in ("left", "right")},
        "descending_drive": {"left": 0.7, "right": 0.7},
    }


#: The patient fields keyed by side (``gaitsim.spec.Patient``), exchanged by :func:`mirror`.
SIDED_FIELDS = (
    "strength",
    "spasticity",
    "contracture",
    "passive_stiffness_nm_rad",
    "descending_drive",
    "neural_delay_scale",
)


def mirror(patient: dict[str, Any]) -> dict[str, Any]:
    """The same patient with left and right exchanged."""
    swap = {"left": "right", "right": "left"}
    out = dict(patient)
    for key in SIDED_FIELDS:
        if key in out:
            out[key] = {swap[s]: v for s, v in out[key].items()}
    side = out.get("paretic_side", "none")
    out["paretic_side"] = swap.get(side, side)
    return out


def _build() -> dict[str, dict[str, Any]]:
    presets: dict[str, dict[str, Any]] = {"healthy": {"condition": "healthy"}}
    for level in _HEMIPARETIC_LEVELS:
        left = _hemiparetic(level)
        presets[f"hemiparetic-{level}-left"] = left
        presets[f"hemiparetic-{level}-right"] = mirror(left)
    presets["incomplete-sci"] = _incomplete_sci()
    return presets


PRESETS: dict[str, dict[str, Any]] = _build()


def preset_dict(name: str) -> dict[str, Any]:
    """A fresh copy of preset ``name`` as a patient mapping (with ``preset`` set)."""
    import copy

    return {"preset": name, **copy.deepcopy(PRESETS[name])}

"""Impairment as pure functions from the patient spec to the numbers written into the model.

Strength scales a muscle's max isometric force; contracture shortens its optimal fibre length
and/or its tendon (Gao et al. 2009); spasticity and descending drive act in the neural
controller, not in the body. Sources of the preset numbers: ``gaitsim.presets``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gaitsim.model.muscles import MuscleParameters, effective_fibre_length
from gaitsim.spec import Patient


@dataclass(frozen=True)
class MuscleSettings:
    """What the model gets for one muscle: force (N), MuJoCo's normalising fibre length L0 and
    rigid tendon length (m)."""

    fmax_n: float
    fibre_length_m: float
    tendon_length_m: float


def muscle_settings(
    patient: Patient, muscle: str, side: str, params: MuscleParameters, ref_mtu_length_m: float
) -> MuscleSettings:
    """Healthy settings (fibre optimal at the reference posture) with the patient's impairment.

    A contracted muscle keeps its healthy path: shorter fibres and tendon mean it reaches the
    same posture stretched, which is what limits range of motion in contracture.
    """
    contracture = patient.contracture_of(muscle, side)
    fibre = effective_fibre_length(muscle, params.lopt_m)
    healthy_tendon = ref_mtu_length_m - fibre
    return MuscleSettings(
        fmax_n=params.fmax_n * patient.strength_of(muscle, side),
        fibre_length_m=fibre * contracture.fibre_length_scale,
        tendon_length_m=healthy_tendon * contracture.tendon_slack_scale,
    )


def toward_healthy(patient: Patient, fraction: float) -> Patient:
    """The patient with each impairment at ``fraction`` of its size (0: healthy, 1: as given).

    Strength, contracture scales, descending drive and delay scales move linearly from their
    healthy value (1) toward the patient's; spasticity gains and extra stiffness from 0. Body
    size and condition are kept. Used for curriculum tuning: a controller that walks a milder
    version of the patient is a good start for the next, where one tuned for a healthy body
    falls at once (measured: the healthy parameters fall within 2 s on the incomplete-SCI
    preset).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction = {fraction}: must be in [0, 1]")

    def toward(one: float) -> Callable[[float], float]:
        return lambda v: one + fraction * (v - one)

    def sided(field: str, per_item: Callable[[Any], Any]) -> dict[str, Any]:
        value = getattr(patient, field)
        return {side: per_item(items) for side, items in value.items()}

    def each(items: Mapping[Any, Any], f: Callable[[Any], Any]) -> dict[str, Any]:
        return {k: f(v) for k, v in items.items()}

    one, zero = toward(1.0), toward(0.0)
    update = {
        "strength": sided("strength", lambda m: each(m, one)),
        "spasticity": sided(
            "spasticity", lambda m: each(m, lambda s: s.model_copy(update={"gain": zero(s.gain)}))
        ),
        "contracture": sided(
            "contracture",
            lambda m: each(
                m,
                lambda c: c.model_copy(
                    update={
                        "fibre_length_scale": one(c.fibre_length_scale),
                        "tendon_slack_scale": one(c.tendon_slack_scale),
                    }
                ),
            ),
        ),
        "passive_stiffness_nm_rad": sided("passive_stiffness_nm_rad", lambda m: each(m, zero)),
        "descending_drive": each(patient.descending_drive, one),
        "neural_delay_scale": each(patient.neural_delay_scale, one),
    }
    return Patient.model_validate({**patient.model_dump(), **update})

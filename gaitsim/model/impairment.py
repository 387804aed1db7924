"""Impairment as pure functions from the patient spec to the numbers written into the model.

Strength scales a muscle's max isometric force; contracture shortens its optimal fibre length
and/or its tendon (Gao et al. 2009); spasticity and descending drive act in the neural
controller, not in the body. Sources of the preset numbers: ``gaitsim.presets``.
"""

from __future__ import annotations

from dataclasses import dataclass

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

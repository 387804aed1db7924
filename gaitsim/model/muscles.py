"""Muscle parameters of the 9 sagittal muscles per leg, scaled to a person.

Max isometric force, optimal fibre length and tendon slack length: H0918, the planar
9-muscle-per-leg gait model of SCONE (Geijtenbeek 2019; Geyer & Herr 2010 muscles plus rectus
femoris and biceps femoris short head; file scenarios/Examples/data/H0918.hfd of
opensim-org/SCONE). Maximum shortening velocity, eccentric force enhancement and activation
dynamics: Geyer & Herr 2010 (vmax 6 lopt/s for soleus, 12 for the others; N = 1.5) and H0918
(activation 100 /s, deactivation 25 /s).

Scaling to body size (geometric similarity): lengths with height, forces with mass^(2/3)
(a physiological cross-section scales as length^2 = mass^(2/3)), from the H0918 reference
subject (1.80 m, 75.16 kg; the gait10dof18musc subject the model derives from).

MuJoCo's muscle has a rigid tendon, so the tendon slack length cannot be copied from a model
with a different path geometry: instead the builder sets the tendon length so that the fibre is
at its optimal length at Geyer & Herr 2010's reference angle phi_ref, which is exactly how that
model defines l_MTU(phi_ref) = l_opt + l_slack (see :data:`REFERENCE_POSTURE_RAD`). The H0918
slack length is kept as published reference data (``lslack_m``; rigid tendons do not use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REFERENCE_HEIGHT_M = 1.80
REFERENCE_MASS_KG = 75.16


@dataclass(frozen=True)
class MuscleParameters:
    """One muscle at reference size. Lengths in m, force in N, vmax in lopt/s."""

    fmax_n: float
    lopt_m: float
    lslack_m: float
    vmax_lopt_s: float


#: H0918 (SCONE) Fmax, lopt, lslack; vmax from Geyer & Herr 2010.
H0918: dict[str, MuscleParameters] = {
    "hams": MuscleParameters(2594.0, 0.109, 0.310, 12.0),
    "bfsh": MuscleParameters(804.0, 0.173, 0.071, 12.0),
    "gmax": MuscleParameters(1944.0, 0.147, 0.127, 12.0),
    "ilpso": MuscleParameters(2342.0, 0.100, 0.163, 12.0),
    "rf": MuscleParameters(1169.0, 0.114, 0.305, 12.0),
    "vas": MuscleParameters(4530.0, 0.087, 0.136, 12.0),
    "gas": MuscleParameters(2241.0, 0.060, 0.390, 12.0),
    "sol": MuscleParameters(3549.0, 0.050, 0.250, 6.0),
    "ta": MuscleParameters(1759.0, 0.098, 0.223, 12.0),
}

_DEG = math.pi / 180.0

#: Joint angles (rad, clinical signs: hip flexion +, knee flexion +, ankle dorsiflexion +) at
#: which each muscle's fibre is at optimal length. Geyer & Herr 2010 phi_ref (their Table,
#: converted from 180 deg = straight hip/knee and 90 deg = neutral ankle): SOL and GAS ankle
#: 10 deg dorsiflexion, TA 20 deg plantarflexion, GAS knee 15 deg, VAS knee 55 deg, HAM knee
#: 0 and hip 25 deg flexion, GLU hip 30 deg flexion, HFL hip 0. RF and BFSH are not in GH2010:
#: RF takes HFL's hip and a knee between VAS and straight (30 deg), BFSH the mid-range of knee
#: flexion in walking (40 deg) - a modelling choice.
REFERENCE_POSTURE_RAD: dict[str, dict[str, float]] = {
    "gmax": {"hip": 30 * _DEG},
    "hams": {"hip": 25 * _DEG, "knee": 0.0},
    "ilpso": {"hip": 0.0},
    "rf": {"hip": 0.0, "knee": 30 * _DEG},
    "vas": {"knee": 55 * _DEG},
    "bfsh": {"knee": 40 * _DEG},
    "gas": {"knee": 15 * _DEG, "ankle": 10 * _DEG},
    "sol": {"ankle": 10 * _DEG},
    "ta": {"ankle": -20 * _DEG},
}

#: Geyer & Herr 2010's factor rho (pennation and tendon compliance): the fraction of a
#: musculotendon length change that reaches the fibre. With MuJoCo's rigid tendon the same
#: effect is had by normalising fibre length by lopt / rho (see :func:`effective_fibre_length`).
#: RF and BFSH take the value of the other biarticular/knee muscles (0.7).
RHO: dict[str, float] = {
    "gmax": 0.5,
    "hams": 0.7,
    "ilpso": 0.5,
    "rf": 0.7,
    "vas": 0.7,
    "bfsh": 0.7,
    "gas": 0.7,
    "sol": 0.5,
    "ta": 0.7,
}

#: Eccentric force plateau (x Fmax), Geyer & Herr 2010 (N = 1.5).
ECCENTRIC_FORCE_MAX = 1.5
#: Normalised fibre length range MuJoCo maps to the operating length range (MuJoCo default).
OPERATING_RANGE = (0.75, 1.05)
#: Activation and deactivation time constants (s): H0918 rates 100 /s and 25 /s.
TIME_CONSTANTS_S = (0.01, 0.04)


def effective_fibre_length(muscle: str, lopt_m: float) -> float:
    """MuJoCo's normalising length L0 = lopt / rho (Geyer & Herr 2010 rho, see :data:`RHO`)."""
    return lopt_m / RHO[muscle]


def scaled(muscle: str, height_m: float, mass_kg: float) -> MuscleParameters:
    """H0918 parameters of ``muscle`` scaled to a person (lengths ~ height, force ~ mass^2/3)."""
    ref = H0918[muscle]
    ls = height_m / REFERENCE_HEIGHT_M
    fs = (mass_kg / REFERENCE_MASS_KG) ** (2.0 / 3.0)
    return MuscleParameters(ref.fmax_n * fs, ref.lopt_m * ls, ref.lslack_m * ls, ref.vmax_lopt_s)

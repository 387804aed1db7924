"""Segment dimensions, masses and inertias scaled to a person (Winter 2009).

Source: D.A. Winter, Biomechanics and Motor Control of Human Movement, 4th ed., 2009,
Table 4.1 (segment mass fractions, centre-of-mass locations and radii of gyration, after
Dempster 1955) and Fig. 4.1 (segment lengths as fractions of body height H, after Drillis &
Contini 1966). The pelvis is split from Winter's HAT with his pelvis mass fraction 0.142 so
that the whole body sums to 1.000 of body mass.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Height of the MJCF templates in assets/models/ (m); positions there are Winter fractions x this.
TEMPLATE_HEIGHT_M = 1.80

# Lengths as fractions of height (Winter 2009 Fig. 4.1).
HIP_HEIGHT = 0.530
KNEE_HEIGHT = 0.285
ANKLE_HEIGHT = 0.039
FOOT_LENGTH = 0.152
THIGH_LENGTH = HIP_HEIGHT - KNEE_HEIGHT  # 0.245
SHANK_LENGTH = KNEE_HEIGHT - ANKLE_HEIGHT  # 0.246
HAT_LENGTH = 0.818 - HIP_HEIGHT  # greater trochanter to glenohumeral joint, 0.288


@dataclass(frozen=True)
class Segment:
    """Winter's numbers for one segment.

    mass_fraction: of body mass; com_fraction: COM distance from the proximal joint as a
    fraction of segment length; gyration_fraction: radius of gyration about the COM as a
    fraction of segment length; length_fraction: segment length as a fraction of height.
    """

    mass_fraction: float
    com_fraction: float
    gyration_fraction: float
    length_fraction: float


SEGMENTS: dict[str, Segment] = {
    "thigh": Segment(0.100, 0.433, 0.323, THIGH_LENGTH),
    "shank": Segment(0.0465, 0.433, 0.302, SHANK_LENGTH),
    # foot: COM halfway ankle -> 2nd metatarsal head; length used for gyration = foot length
    "foot": Segment(0.0145, 0.50, 0.475, FOOT_LENGTH),
    # pelvis (Winter 0.142); COM 0.03 H above the hip centre (modelling choice within the
    # pelvis), gyration as HAT's
    "pelvis": Segment(0.142, 0.0, 0.496, 0.06),
    # HAT above the pelvis: 0.678 - 0.142; COM placed so that pelvis + torso have HAT's COM
    # at 0.626 of GT->glenohumeral above the hip (Winter 2009 Table 4.1)
    "torso": Segment(0.678 - 0.142, 0.0, 0.496, HAT_LENGTH),
}

HAT_COM_ABOVE_HIP = 0.626 * HAT_LENGTH  # fraction of height
PELVIS_COM_ABOVE_HIP = 0.03  # fraction of height (modelling choice, see above)
LUMBAR_ABOVE_HIP = 0.06  # torso frame origin above the hip centre, fraction of height


def torso_com_above_hip() -> float:
    """Torso COM height above the hip (fraction of H) that puts the HAT COM where Winter has it."""
    p, t = SEGMENTS["pelvis"].mass_fraction, SEGMENTS["torso"].mass_fraction
    return (HAT_COM_ABOVE_HIP * (p + t) - PELVIS_COM_ABOVE_HIP * p) / t


def total_mass_fraction() -> float:
    """Sum of all segment mass fractions (two legs); 1.000 by construction."""
    s = SEGMENTS
    leg = s["thigh"].mass_fraction + s["shank"].mass_fraction + s["foot"].mass_fraction
    return s["pelvis"].mass_fraction + s["torso"].mass_fraction + 2 * leg


def segment_inertia(segment: str, height_m: float, mass_kg: float) -> tuple[float, list[float]]:
    """(mass kg, diagonal inertia kg m^2) of a segment for a person.

    The sagittal (y) and frontal (x) moments use Winter's radius of gyration; the long-axis
    moment is taken as 1/5 of it (a cylinder of these proportions), which the planar model
    never excites.
    """
    seg = SEGMENTS[segment]
    m = seg.mass_fraction * mass_kg
    k = seg.gyration_fraction * seg.length_fraction * height_m
    i = m * k * k
    return m, [i, i, 0.2 * i]

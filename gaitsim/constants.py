"""Names shared by every stage: sides, joints, muscles and Trace channels.

Sign conventions (clinical, sagittal plane; x forward, z up, hinge axes along y):
hip flexion +, knee flexion +, ankle dorsiflexion +, trunk/pelvis forward pitch +.
"""

from __future__ import annotations

#: Standard gravity (m/s²): the model's (assets/models/human_sagittal.xml, MuJoCo's default),
#: used for body weight and the inverted-pendulum frequency.
G_M_S2 = 9.81

SIDES: tuple[str, ...] = ("left", "right")
JOINTS: tuple[str, ...] = ("hip", "knee", "ankle")
#: Leg segments, proximal to distal (bodies ``thigh``, ``shank``, ``foot`` per side).
LEG_SEGMENTS: tuple[str, ...] = ("thigh", "shank", "foot")

#: The 9 sagittal muscles per leg of the H0918 model (Geyer & Herr 2010 plus RF and BFSH).
MUSCLES: tuple[str, ...] = ("gmax", "hams", "ilpso", "rf", "vas", "bfsh", "gas", "sol", "ta")


def model_name(element: str, side: str) -> str:
    """Model name of a sided element (muscle, tendon, joint, body, site, geom): ``left_sol``.

    The leg template is attached once per side with this prefix.
    """
    return f"{side}_{element}"


muscle_name = model_name
joint_name = model_name


def angle_channel(joint: str, side: str) -> str:
    """Trace channel of a joint angle (rad, clinical sign), e.g. ``knee_left_angle_rad``."""
    return f"{joint}_{side}_angle_rad"


def velocity_channel(joint: str, side: str) -> str:
    """Trace channel of a joint angular velocity (rad/s)."""
    return f"{joint}_{side}_velocity_rad_s"


def grf_channel(side: str) -> str:
    """Trace channel of the summed ground force on a foot, world frame (N), shape (T, 3)."""
    return f"grf_{side}_n"


def heel_channel(side: str) -> str:
    """Trace channel of the lowest point of a heel contact sphere, world frame (m), shape (T, 3)."""
    return f"heel_{side}_pos_m"


def toe_channel(side: str) -> str:
    """Trace channel of the lowest point of a toe contact sphere, world frame (m), shape (T, 3)."""
    return f"toe_{side}_pos_m"


MUSCLE_CHANNELS: tuple[str, ...] = (
    "muscle_excitation",
    "muscle_activation",
    "muscle_length_m",
    "muscle_velocity_m_s",
    "muscle_force_n",
)

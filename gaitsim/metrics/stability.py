"""Dynamic stability: anterior-posterior margin of stability at heel strike.

Hof, Gazendam & Sinke 2005 (J Biomech 38:1): the extrapolated centre of mass
XcoM = x_CoM + v_CoM / ω0 with ω0 = √(g / l), l = leg length (inverted-pendulum length), and the
margin of stability b = u_max − XcoM, where u_max is the base-of-support (BoS) boundary.

Here, in the sagittal plane (x forward), at each heel strike the anterior BoS boundary is the most
anterior toe x among the striking foot and the other foot if it is loaded (normally the striking,
leading foot). Sign: MoS > 0 means the XcoM lies behind the front of the BoS (the body can still
stop over its feet); MoS < 0 means the XcoM has passed it and another step is needed.
"""

from __future__ import annotations

import math

import numpy as np

from gaitsim.constants import G_M_S2


def extrapolated_com_m(
    com_x_m: np.ndarray, com_vx_m_s: np.ndarray, leg_length_m: float, g_m_s2: float = G_M_S2
) -> np.ndarray:
    """XcoM (m) = x + v / ω0, ω0 = √(g / l) (Hof, Gazendam & Sinke 2005)."""
    if not leg_length_m > 0:
        raise ValueError(f"leg length must be > 0 m for the XcoM; got {leg_length_m}")
    omega0 = math.sqrt(g_m_s2 / leg_length_m)
    return np.asarray(com_x_m, dtype=float) + np.asarray(com_vx_m_s, dtype=float) / omega0


def mos_ap_at_heel_strikes(
    xcom_m: np.ndarray,
    toe_x_m: np.ndarray,
    other_toe_x_m: np.ndarray,
    other_loaded: np.ndarray,
    heel_strike_idx: np.ndarray,
) -> np.ndarray:
    """AP margin of stability (m) at each heel strike of one foot; sign in the module docstring.

    ``toe_x_m`` is the striking foot's toe x, ``other_toe_x_m``/``other_loaded`` the other
    foot's toe x and contact state, all (T,).
    """
    hs = np.asarray(heel_strike_idx, dtype=int)
    other_front = np.where(other_loaded[hs], np.asarray(other_toe_x_m, dtype=float)[hs], -np.inf)
    boundary = np.maximum(np.asarray(toe_x_m, dtype=float)[hs], other_front)
    return boundary - np.asarray(xcom_m, dtype=float)[hs]

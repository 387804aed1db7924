"""Energy: the muscles' metabolic rate, and the device's work, interaction and motor use.

Metabolic rate after Umberger, Gerritsen & Martin 2003 (Comput Methods Biomech Biomed Eng
6:99), as implemented by Falisse et al. (antoinefalisse/3dpredictsim,
``getMetabolicEnergySmooth2003all.m``, here without its smoothing), per muscle:

- activation and maintenance heat ``(128 f_FT + 25) A^0.6 S`` W/kg, scaled by
  ``0.4 + 0.6 F_iso(l)`` on the descending limb (l > 1); A = u when u > a, else (u + a) / 2;
  S = 1.5 (aerobic);
- shortening heat ``-(alpha_ST f_ST + alpha_FT f_FT) v A^2 S`` (v < 0, fibre lopt/s) and
  lengthening heat ``alpha_L v A S``, with alpha_FT = 153 / vmax, alpha_ST = 100 / (vmax / 2.5),
  alpha_L = 4 alpha_ST, scaled by F_iso on the descending limb;
- the heat rate floored at 1 W/kg; plus the contractile element's mechanical power,
  negative work included;
- muscle mass (F_max / sigma) rho l_opt with sigma = 0.25 MPa and rho = 1059.7 kg/m^3
  (OpenSim's defaults); slow-twitch fractions of Uchida et al. 2016 (PLoS One 11:e0150378)
  as tabulated by 3dpredictsim ``getSlowTwitchRatios.m`` (averaged over the heads a gaitsim
  muscle lumps; iliopsoas 0.5: no data);
- whole body: the muscles plus a basal 1.2 W/kg (OpenSim's default). *Net* is that minus
  the basal rate; the cost of transport is the net rate over the walking speed.

Inputs come from the Trace (excitation, activation, musculotendon length and velocity) and
``meta["muscles"]`` (each muscle's MuJoCo gain parameters, length range and rho, written by the
simulation). The fibre's normalised length and velocity are MuJoCo's own (rigid tendon, the
fibre taking rho of a musculotendon length change; ``gaitsim.model.muscles``), and the active
force and F_iso come from MuJoCo's muscle gain function, so the energetics see exactly the
muscle the simulation ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mujoco
import numpy as np

from gaitsim.sim.trace import Trace

#: Fraction of slow-twitch fibres (Uchida et al. 2016 via 3dpredictsim getSlowTwitchRatios.m):
#: gmax: gluteus maximus 0.55; hams: mean of semimembranosus 0.4925, semitendinosus 0.425,
#: biceps femoris long head 0.5425; ilpso: no data, 0.5; rf 0.3865; vas: mean of the vasti
#: 0.503, 0.543, 0.455; bfsh 0.529; gas: mean of medial 0.566 and lateral 0.507; sol 0.803;
#: ta 0.70.
SLOW_TWITCH: dict[str, float] = {
    "gmax": 0.55,
    "hams": (0.4925 + 0.425 + 0.5425) / 3,
    "ilpso": 0.5,
    "rf": 0.3865,
    "vas": (0.503 + 0.543 + 0.455) / 3,
    "bfsh": 0.529,
    "gas": (0.566 + 0.507) / 2,
    "sol": 0.803,
    "ta": 0.70,
}
SPECIFIC_TENSION_PA = 0.25e6  # OpenSim default
MUSCLE_DENSITY_KG_M3 = 1059.7  # OpenSim default
BASAL_W_KG = 1.2  # OpenSim default (basal coefficient 1.2, exponent 1)
AEROBIC_SCALE = 1.5  # Umberger 2003's S for aerobic activity
HEAT_FLOOR_W_KG = 1.0


def _base(name: str) -> str:
    return name.split("_", 1)[1] if "_" in name else name


def _arrays(muscles: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gain parameters, length ranges, rho) of a ``meta["muscles"]`` mapping."""
    return (
        np.asarray(muscles["gainprm"], float),
        np.asarray(muscles["lengthrange"], float),
        np.asarray(muscles["rho"], float),
    )


def normalising_length_m(prm: np.ndarray, lengthrange: np.ndarray) -> np.ndarray:
    """MuJoCo's L0 per muscle: the length range over the normalised operating range."""
    return (lengthrange[:, 1] - lengthrange[:, 0]) / (prm[:, 1] - prm[:, 0])


def muscle_mass_kg(muscles: Mapping[str, Any]) -> np.ndarray:
    """(F_max / sigma) rho_density l_opt per muscle (OpenSim's definition and defaults);
    l_opt = L0 x rho (the model's normalising length is lopt / rho)."""
    prm, lengthrange, rho = _arrays(muscles)
    lopt = normalising_length_m(prm, lengthrange) * rho
    return prm[:, 2] / SPECIFIC_TENSION_PA * MUSCLE_DENSITY_KG_M3 * lopt


def activation_heat_weights(muscles: Mapping[str, Any], names: Sequence[str]) -> np.ndarray:
    """Per muscle: Umberger 2003's activation-maintenance heat at full activation (W),
    ``(128 f_FT + 25) x 1.5`` W/kg times the muscle's mass; times A^0.6 it is the bulk of
    walking's metabolic rate, cheap enough for every tick (tuning, environments)."""
    fast = 1.0 - np.array([SLOW_TWITCH[_base(n)] for n in names])
    return muscle_mass_kg(muscles) * (128.0 * fast + 25.0) * AEROBIC_SCALE


def muscle_states(trace: Trace) -> dict[str, np.ndarray]:
    """Normalised fibre length l (lopt), fibre velocity v (lopt/s), fibre velocity (m/s),
    active force (N) and F_iso per sample and muscle, from MuJoCo's muscle functions."""
    prm, lengthrange, rho = _arrays(trace.meta["muscles"])
    length = np.asarray(trace["muscle_length_m"], float)
    velocity = np.asarray(trace["muscle_velocity_m_s"], float)
    act = np.asarray(trace["muscle_activation"], float)
    r0 = prm[:, 0]
    l0 = normalising_length_m(prm, lengthrange)  # MuJoCo's L0 = lopt / rho
    l_norm = r0 + (length - lengthrange[:, 0]) / l0
    v_norm = velocity / l0
    active = np.empty_like(length)
    f_iso = np.empty_like(length)
    for j in range(length.shape[1]):
        p = prm[j]
        lr = lengthrange[j]
        for t in range(length.shape[0]):
            gain = mujoco.mju_muscleGain(length[t, j], velocity[t, j], lr, 0.0, p)
            active[t, j] = -gain * act[t, j]
            f_iso[t, j] = mujoco.mju_muscleGain(length[t, j], 0.0, lr, 0.0, p) / -p[2]
    lopt = l0 * rho
    return {
        "l_norm": l_norm,
        "v_norm": v_norm,
        "fibre_velocity_m_s": v_norm * lopt,
        "active_force_n": active,
        "f_iso": f_iso,
        "mass_kg": muscle_mass_kg(trace.meta["muscles"]),
        "vmax_lopt_s": prm[:, 6],
    }


def umberger2003_w(trace: Trace) -> np.ndarray:
    """Metabolic rate per sample and muscle (W), Umberger et al. 2003 (see module docstring)."""
    s = muscle_states(trace)
    names = trace.meta["muscle_names"]
    f_st = np.array([SLOW_TWITCH[_base(n)] for n in names])
    f_ft = 1.0 - f_st
    u = np.asarray(trace["muscle_excitation"], float)
    a = np.asarray(trace["muscle_activation"], float)
    big_a = np.where(u > a, u, 0.5 * (u + a))
    descending = s["l_norm"] > 1.0
    scale = np.where(descending, s["f_iso"], 1.0)
    h_am = (128.0 * f_ft + 25.0) * np.where(descending, 0.4 + 0.6 * s["f_iso"], 1.0)
    am = h_am * big_a**0.6 * AEROBIC_SCALE
    vmax = s["vmax_lopt_s"]
    alpha_ft = 153.0 / vmax
    alpha_st = 100.0 / (vmax / 2.5)
    alpha_l = 4.0 * alpha_st
    v = s["v_norm"]
    shortening = v <= 0.0
    h_sl = np.where(shortening, -(alpha_st * f_st + alpha_ft * f_ft) * v, alpha_l * v)
    sl = h_sl * np.where(shortening, big_a**2, big_a) * AEROBIC_SCALE * scale
    heat = np.maximum(am + sl, HEAT_FLOOR_W_KG)
    work = -s["active_force_n"] * s["fibre_velocity_m_s"]  # positive when shortening
    return heat * s["mass_kg"] + work


def _window(trace: Trace) -> np.ndarray:
    """Samples after the start transient (the gait metrics' window)."""
    t = np.asarray(trace.time_s, float)
    return t >= float(trace.meta.get("transient_s", 0.0))


def metabolics(trace: Trace, speed_m_s: float | None) -> dict[str, Any] | None:
    """Whole-body metabolic rate over the run after its transient: gross and net (W/kg),
    net cost of transport (J/(kg m)) and each muscle's mean rate (W). None without the muscle
    parameters (traces of older versions)."""
    if "muscles" not in trace.meta or len(trace) < 2:
        return None
    keep = _window(trace)
    if keep.sum() < 2:
        return None
    mass = float(trace.meta["body"]["mass_kg"])
    per_muscle = umberger2003_w(trace)[keep]
    mean_w = per_muscle.mean(axis=0)
    net = float(mean_w.sum()) / mass
    cot = net / speed_m_s if speed_m_s and speed_m_s > 0.05 else None
    names = trace.meta["muscle_names"]
    return {
        "gross_w_kg": net + BASAL_W_KG,
        "net_w_kg": net,
        "cost_of_transport_j_kg_m": cot,
        "per_muscle_w": {n: float(w) for n, w in zip(names, mean_w, strict=True)},
    }


def device_energetics(trace: Trace) -> dict[str, Any] | None:
    """Per module: positive and negative mechanical work of the motor (J), peak and RMS
    interaction torque (N m), and motor use against its limits: peak torque / peak limit,
    RMS torque / continuous limit, peak speed / no-load speed. None without a device."""
    info = trace.meta.get("device")
    if not info:
        return None
    keep = _window(trace)
    if keep.sum() < 2:
        return None
    t = np.asarray(trace.time_s, float)[keep]
    out: dict[str, Any] = {}
    for k, (side, joint) in enumerate(info["modules"]):

        def channel(quantity: str, side: str = side, joint: str = joint) -> np.ndarray:
            return np.asarray(trace[f"device_{side}_{joint}_{quantity}"], float)[keep]

        torque, speed = channel("torque_nm"), channel("velocity_rad_s")
        interaction = channel("interaction_nm")
        power = torque * speed
        dt = np.diff(t, append=t[-1])
        out[f"{side}_{joint}"] = {
            "positive_work_j": float(np.sum(np.maximum(power, 0) * dt)),
            "negative_work_j": float(np.sum(np.minimum(power, 0) * dt)),
            "peak_interaction_nm": float(np.abs(interaction).max()),
            "rms_interaction_nm": float(np.sqrt(np.mean(interaction**2))),
            "peak_torque_use": _ratio(np.abs(torque).max(), info["peak_torque_nm"][k]),
            "rms_torque_use": _ratio(np.sqrt(np.mean(torque**2)), info["continuous_torque_nm"][k]),
            "peak_speed_use": _ratio(np.abs(speed).max(), info["max_speed_rad_s"][k]),
        }
    return out


def _ratio(value: float, limit: float) -> float | None:
    return float(value / limit) if limit > 0 else None

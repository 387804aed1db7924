"""Reflex-based neural controller of walking, after Geyer & Herr 2010 and Song & Geyer 2015.

Sagittal-plane version with the 9 muscles per leg of H0918, following the 2D module structure
of Song & Geyer 2015 as re-implemented for the L2M2019 model by S. Song (osim-rl,
``loco_reflex_song2019.py``, 37 parameters in 2D). Differences from that file: the mid-swing
knee module M8 is plain velocity damping (RF resists flexion, BFSH resists extension), so its
``BFSH_8_PG`` is gone (36 circuit parameters); three pre-stimulation levels of Geyer & Herr
2010 are added (39 per leg); the nominal leg-angle target c0 is 70 deg (Song: 75 deg at
p = 1), a choice for our shorter-footed model; neural delays are added:

- stance: compliant leg by positive force feedback (M1: SOL, GAS, VAS, RF), knee
  hyperextension prevention (M2: VAS inhibition, BFSH), trunk balance by PD control of trunk
  pitch on the hip muscles gated by leg load (M3: HFL, GLU, HAM co-activation), ankle
  dorsiflexion by TA stretch reflex inhibited by SOL force (M5);
- swing: leg placement towards a target leg angle (M6: HFL, GLU), early-swing knee flexion
  (M7: BFSH), knee velocity damping in mid-swing (M8: RF, BFSH), late-swing deceleration
  (M9: HAM, BFSH), final leg positioning (M10: HFL, GLU, VAS, BFSH);
- supraspinal layer: target leg angle alpha_tgt = c0 - cv * v - theta (SIMBICON-like foot
  placement) and, in double support, the trailing leg is chosen to swing. On a course the
  planner of ``gaitsim.neural.supraspinal`` adds, per leg, an offset to alpha_tgt (step length)
  and a lift to the swing knee's flexion target (clearance), as Song & Geyer 2015 modulate
  foot placement and swing height to negotiate obstacles.

Neural delays (Geyer & Herr 2010): 5 ms for hip muscles (GLU, HFL, HAM, RF), 10 ms for knee
muscles (VAS, BFSH), 20 ms for ankle muscles (GAS, SOL, TA). They live in the controller state
as shift registers of past stimulations (one row per control tick): the circuit runs on the
current measurements and each muscle's stimulation reaches it after its group's delay (the
sensory and motor delays lumped into one).

Impairment (per muscle, from the patient spec): spasticity adds gain * max(0, v/lopt - v_th)
in every phase, so it is not suppressed in swing (Jansen et al. 2014); descending drive caps
the excitation of a side's muscles (reduced central activation, Knarr et al. 2014); a delay
scale lengthens the paretic side's delays.

Angles inside follow Song & Geyer's convention (hip and knee 180 deg straight, decreasing in
flexion; ankle 90 deg neutral, decreasing in dorsiflexion); they are converted from gaitsim's
clinical angles on entry.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gaitsim import constants as C
from gaitsim.neural.parameters import Param

_D = math.pi / 180.0

#: Reflex parameters of one leg. Nominal values: Song's 2D parameter scaling at p = 1 (except
#: c0, see above), with the trunk lean target of Geyer & Herr 2010 (6 deg); bounds are the
#: search space of tuning.
REFLEX_PARAMETERS: tuple[Param, ...] = (
    Param("theta_tgt", 6 * _D, -5 * _D, 20 * _D, "rad"),
    Param("c0", 70 * _D, 55 * _D, 85 * _D, "rad"),
    Param("cv", 2 * _D, 0.0, 10 * _D, "rad s/m"),
    Param("alpha_delta", 5 * _D, 0.0, 15 * _D, "rad"),
    Param("knee_sw_tgt", 140 * _D, 110 * _D, 170 * _D, "rad"),
    Param("knee_tgt", 175 * _D, 160 * _D, 180 * _D, "rad"),
    Param("knee_off_st", 175 * _D, 160 * _D, 180 * _D, "rad"),
    Param("ankle_tgt", 80 * _D, 60 * _D, 100 * _D, "rad"),
    Param("HFL_3_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("HFL_3_DG", 1.0, 0.0, 3.0, "s/rad"),
    Param("HFL_6_PG", 1.0, 0.0, 4.0, "1/rad"),
    Param("HFL_6_DG", 0.5, 0.0, 2.0, "s/rad"),
    Param("HFL_10_PG", 1.0, 0.0, 4.0, "1/rad"),
    Param("GLU_3_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("GLU_3_DG", 0.5, 0.0, 2.0, "s/rad"),
    Param("GLU_6_PG", 1.0, 0.0, 4.0, "1/rad"),
    Param("GLU_6_DG", 0.1, 0.0, 1.0, "s/rad"),
    Param("GLU_10_PG", 0.5, 0.0, 3.0, "1/rad"),
    Param("HAM_3_GLU", 1.0, 0.0, 3.0),
    Param("HAM_9_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("RF_1_FG", 0.3, 0.0, 1.5),
    Param("RF_8_DG_knee", 0.1, 0.0, 1.0, "s/rad"),
    Param("VAS_1_FG", 1.0, 0.0, 3.0),
    Param("VAS_2_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("VAS_10_PG", 0.3, 0.0, 2.0, "1/rad"),
    Param("BFSH_2_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("BFSH_7_DG_alpha", 0.5, 0.0, 2.0, "s/rad"),
    Param("BFSH_7_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("BFSH_8_DG", 1.0, 0.0, 3.0, "s/rad"),
    Param("BFSH_9_G_HAM", 2.0, 0.0, 6.0),
    Param("BFSH_9_HAM0", 0.3, 0.0, 1.0),
    Param("BFSH_10_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("GAS_2_FG", 1.2, 0.0, 3.0),
    Param("SOL_1_FG", 1.2, 0.0, 3.0),
    Param("TA_5_PG", 2.0, 0.0, 6.0, "1/rad"),
    Param("TA_5_G_SOL", 0.5, 0.0, 2.0),
    # pre-stimulation (Geyer & Herr 2010: 0.08-0.09 VAS, 0.05 hip muscles, 0.01 others)
    Param("S0_VAS", 0.08, 0.01, 0.3),
    Param("S0_HIP", 0.05, 0.01, 0.3),
    Param("S0_PF", 0.01, 0.01, 0.3),
)
P = {p.name: i for i, p in enumerate(REFLEX_PARAMETERS)}

#: Geyer & Herr 2010 delays (s) by muscle group; gaitsim muscle -> group.
GROUP_DELAYS_S = (0.005, 0.010, 0.020)
MUSCLE_GROUP = {
    "gmax": 0,
    "hams": 0,
    "ilpso": 0,
    "rf": 0,
    "vas": 1,
    "bfsh": 1,
    "gas": 2,
    "sol": 2,
    "ta": 2,
}
PRE_STIMULATION = 0.01  # Geyer & Herr 2010
CONTACT_LOAD_BW = 0.1  # stance when the foot carries > 0.1 body weight (Song & Geyer 2015)

# phase flags per leg in the state
_IN_CONTACT, _ST, _SW, _FLEX_K, _HOLD_K, _STOP_L, _HOLD_L = range(7)
_N_FLAGS = 7

_N_MUSCLES = len(C.MUSCLES)


def delay_ticks(rate_hz: float, delay_scale: tuple[float, float]) -> np.ndarray:
    """Each muscle's delay in controller ticks (gaitsim order, left then right)."""
    # delays are whole controller ticks (5 ms at 200 Hz): rounded half up, never to zero
    return np.array(
        [
            max(1, math.floor(GROUP_DELAYS_S[MUSCLE_GROUP[m]] * scale * rate_hz + 0.5))
            for scale in delay_scale
            for m in C.MUSCLES
        ]
    )


def _senses(obs: dict[str, jnp.ndarray], fmax: jnp.ndarray, bw: jnp.ndarray) -> dict:
    """Both legs' sensory signals in Song & Geyer's convention, leading axis = leg."""
    angle = obs["joint_angle_rad"].reshape(2, 3)
    velocity = obs["joint_velocity_rad_s"].reshape(2, 3)
    force = (obs["muscle_force_n"] / fmax).reshape(2, _N_MUSCLES)
    phi_hip, phi_knee = math.pi - angle[:, 0], math.pi - angle[:, 1]
    phi_ankle = 0.5 * math.pi - angle[:, 2]
    dphi_hip, dphi_knee = -velocity[:, 0], -velocity[:, 1]
    load = obs["foot_load_n"] / bw
    return {
        "phi_hip": phi_hip,
        "phi_knee": phi_knee,
        "phi_ankle": phi_ankle,
        "dphi_knee": dphi_knee,
        "alpha": phi_hip - 0.5 * phi_knee,
        "dalpha": dphi_hip - 0.5 * dphi_knee,
        "load": load,
        "load_contra": load[::-1],
        "F": {m: force[:, i] for i, m in enumerate(C.MUSCLES)},
    }


def _update_phase(flags: jnp.ndarray, s: dict, p: jnp.ndarray, alpha_tgt) -> jnp.ndarray:
    """Stance/swing state machine of one leg (Song & Geyer 2015 switch events)."""
    contact = (s["load"] > CONTACT_LOAD_BW).astype(flags.dtype)
    touchdown = (1 - flags[_IN_CONTACT]) * contact
    liftoff = flags[_IN_CONTACT] * (1 - contact)
    keep = (1 - touchdown) * (1 - liftoff)
    st = keep * flags[_ST] + touchdown
    sw = keep * flags[_SW] + liftoff
    flex_now = keep * flags[_FLEX_K] + liftoff  # after this tick's touchdown/liftoff
    hold_k, stop_l, hold_l = (keep * flags[i] for i in (_HOLD_K, _STOP_L, _HOLD_L))
    # swing sub-phases (Sw1-Sw4), in Song's order: while flexing the knee, knee flexed ->
    # hold knee; afterwards, leg angle reached -> stop leg; leg retracting -> hold leg
    knee_flexed = sw * flex_now * (s["phi_knee"] < p[P["knee_sw_tgt"]])
    flex_k = flex_now * (1 - knee_flexed)
    hold_k = jnp.maximum(hold_k, knee_flexed)
    later = sw * (1 - flex_now)
    hold_k = hold_k * (1 - later * hold_k * (s["alpha"] < alpha_tgt))
    stop_l = jnp.maximum(stop_l, later * (s["alpha"] < alpha_tgt + p[P["alpha_delta"]]))
    hold_l = jnp.maximum(hold_l, later * stop_l * (s["dalpha"] > 0))
    return jnp.stack([contact, st, sw, flex_k, hold_k, stop_l, hold_l]).astype(flags.dtype)


def _leg_stimulation(
    f: jnp.ndarray, s: dict, p: jnp.ndarray, theta, dtheta, alpha_tgt, swing_init
) -> jnp.ndarray:
    """Excitation of one leg's 9 muscles (gaitsim order) from its modules."""
    relu = jax.nn.relu
    st, sw = f[_ST], f[_SW]
    st_sw0 = st * swing_init
    st_st = st * (1 - st_sw0)
    hip_tgt = alpha_tgt + 0.5 * p[P["knee_tgt"]]
    load, load_c = s["load"], s["load_contra"]

    hfl = (
        st
        * load
        * relu(-p[P["HFL_3_PG"]] * (theta - p[P["theta_tgt"]]) - p[P["HFL_3_DG"]] * dtheta)
        + (st_sw0 * load_c + sw)
        * relu(p[P["HFL_6_PG"]] * (s["alpha"] - alpha_tgt) + p[P["HFL_6_DG"]] * s["dalpha"])
        + f[_HOLD_L] * relu(p[P["HFL_10_PG"]] * (s["phi_hip"] - hip_tgt))
    )
    glu_3 = (
        st * load * relu(p[P["GLU_3_PG"]] * (theta - p[P["theta_tgt"]]) + p[P["GLU_3_DG"]] * dtheta)
    )
    glu = (
        glu_3
        + (st_sw0 * load_c + sw)
        * relu(-p[P["GLU_6_PG"]] * (s["alpha"] - alpha_tgt) - p[P["GLU_6_DG"]] * s["dalpha"])
        + f[_HOLD_L] * relu(-p[P["GLU_10_PG"]] * (s["phi_hip"] - hip_tgt))
    )
    ham_9 = f[_STOP_L] * relu(-p[P["HAM_9_PG"]] * (s["alpha"] - (alpha_tgt + p[P["alpha_delta"]])))
    ham = p[P["HAM_3_GLU"]] * glu_3 + ham_9
    support = st_st + st_sw0 * (1 - load_c)  # stance leg still carrying the body
    rf = support * relu(p[P["RF_1_FG"]] * s["F"]["rf"]) + f[_HOLD_K] * relu(
        -p[P["RF_8_DG_knee"]] * s["dphi_knee"]
    )
    knee_over = s["phi_knee"] - p[P["knee_off_st"]]
    vas = (
        support * relu(p[P["VAS_1_FG"]] * s["F"]["vas"])
        - support * relu(p[P["VAS_2_PG"]] * knee_over)
        + f[_HOLD_L] * relu(-p[P["VAS_10_PG"]] * (s["phi_knee"] - p[P["knee_tgt"]]))
    )
    bfsh = (
        support * relu(p[P["BFSH_2_PG"]] * knee_over)
        + (st_sw0 * load_c + f[_FLEX_K])
        * relu(
            -p[P["BFSH_7_DG_alpha"]] * s["dalpha"]
            + p[P["BFSH_7_PG"]] * (s["phi_knee"] - p[P["knee_sw_tgt"]])
        )
        + f[_HOLD_K] * relu(p[P["BFSH_8_DG"]] * s["dphi_knee"])
        + relu(p[P["BFSH_9_G_HAM"]] * (ham_9 - p[P["BFSH_9_HAM0"]]))
        + f[_HOLD_L] * relu(p[P["BFSH_10_PG"]] * (s["phi_knee"] - p[P["knee_tgt"]]))
    )
    gas = st * relu(p[P["GAS_2_FG"]] * s["F"]["gas"])
    sol_1 = st * relu(p[P["SOL_1_FG"]] * s["F"]["sol"])
    ta = relu(p[P["TA_5_PG"]] * (s["phi_ankle"] - p[P["ankle_tgt"]])) - st * relu(
        p[P["TA_5_G_SOL"]] * sol_1
    )
    s0_hip, s0_pf = p[P["S0_HIP"]], p[P["S0_PF"]]
    by_name = {
        "gmax": s0_hip + glu,
        "hams": s0_hip + ham,
        "ilpso": s0_hip + hfl,
        "rf": PRE_STIMULATION + rf,
        "vas": p[P["S0_VAS"]] + vas,
        "bfsh": PRE_STIMULATION + bfsh,
        "gas": s0_pf + gas,
        "sol": s0_pf + sol_1,
        "ta": PRE_STIMULATION + ta,
    }
    return jnp.stack([by_name[m] for m in C.MUSCLES])


def _circuit(params: dict, flags: jnp.ndarray, obs: dict) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The two-leg circuit on current measurements; legs vectorised with ``jax.vmap``.

    flags: (2, 7) phase flags per leg. Returns new flags and undelayed stimulation (18,).
    """
    reflex, bw = params["reflex"], params["body_weight_n"]
    theta = obs["trunk_pitch_rad"][0]
    dtheta = obs["trunk_pitch_rate_rad_s"][0]
    speed = obs["pelvis_velocity_m_s"][0]
    senses = _senses(obs, params["muscle"][0], bw)
    alpha_tgt = reflex[:, P["c0"]] - reflex[:, P["cv"]] * speed - theta
    if "step_offset_rad" in obs:  # a course: the supraspinal planner's adjustments per leg
        alpha_tgt = alpha_tgt + obs["step_offset_rad"]
        lift = obs["swing_lift_rad"]
        # clearance: more swing knee flexion, and the ankle held dorsiflexed (toes up)
        reflex = reflex.at[:, P["knee_sw_tgt"]].add(-lift).at[:, P["ankle_tgt"]].add(-0.5 * lift)
    new_flags = jax.vmap(_update_phase)(flags, senses, reflex, alpha_tgt)
    # supraspinal swing selection in double support: the leg further behind its target swings
    both = new_flags[0, _IN_CONTACT] * new_flags[1, _IN_CONTACT]
    behind = senses["alpha"] - alpha_tgt
    left_first = (behind[0] > behind[1]).astype(flags.dtype)
    swing_init = both * jnp.stack([left_first, 1 - left_first])
    stim = jax.vmap(_leg_stimulation, in_axes=(0, 0, 0, None, None, 0, 0))(
        new_flags, senses, reflex, theta, dtheta, alpha_tgt, swing_init
    )
    return new_flags, stim.reshape(-1)


def history_length(rate_hz: float, max_delay_scale: float = 2.0) -> int:
    """Ring-buffer length that holds the longest delay at ``rate_hz``."""
    return 1 + math.ceil(max(GROUP_DELAYS_S) * max_delay_scale * rate_hz)


def init(params: dict, spec: Any, history: int) -> dict:
    """Initial state: empty delay lines (filled by the first tick), both legs in stance."""
    del spec
    flags = jnp.zeros((2, _N_FLAGS), jnp.float32)
    flags = flags.at[:, _IN_CONTACT].set(1.0).at[:, _ST].set(1.0)
    return {
        "stimulation": jnp.zeros((history, 2 * _N_MUSCLES), jnp.float32),
        "flags": flags,
        "age": jnp.zeros((), jnp.int32),  # ticks run, up to the delay line's length
    }


def step(params: dict, state: dict, obs: dict) -> tuple[dict, jnp.ndarray]:
    """One controller tick: measurements in, 18 muscle excitations in [0.01, drive] out.

    The circuit runs on the current measurements and each muscle receives its stimulation of
    ``ticks`` ago: for a circuit whose pathways into one muscle share that muscle's loop delay
    this equals delaying the sensory inputs (Geyer & Herr 2010), at a sixth of the cost.
    """
    obs = {k: jnp.asarray(v, jnp.float32) for k, v in obs.items()}
    flags, stim = _circuit(params, state["flags"], obs)
    # muscle rows: max force (N), lopt / rho (m: MTU velocity / this = fibre velocity in
    # lopt/s), spasticity gain and velocity threshold (lopt/s)
    _, fibre_length, spastic_gain, spastic_threshold = params["muscle"]
    velocity = obs["muscle_velocity_m_s"] / fibre_length
    stim = stim + spastic_gain * jax.nn.relu(velocity - spastic_threshold)
    old = state["stimulation"]
    history = jnp.concatenate([stim[None], old[:-1]])
    # a row not yet written (the run is younger than the delay) reads as the oldest written
    # one: the lines start filled with the first stimulation
    row = jnp.minimum(params["ticks"], state["age"])
    excitation = history[row, np.arange(2 * _N_MUSCLES)]
    excitation = jnp.clip(excitation, PRE_STIMULATION, params["drive"])
    age = jnp.minimum(state["age"] + 1, old.shape[0] - 1)
    new_state = {"stimulation": history, "flags": flags, "age": age}
    return new_state, excitation

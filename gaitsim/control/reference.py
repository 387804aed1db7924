"""Reference joint trajectories for guidance, generated for a walking speed and body height.

After the key-event method of Koopman, van Asseldonk & van der Kooij 2014 (J Biomech
47:1447): each joint's gait cycle is given by key events (the extremes of its curve: phase
and angle), and smooth segments join them - here cubic segments with zero slope at every
key event (Koopman fitted quintics through events with regressed velocities and
accelerations). Koopman regressed every event's timing and amplitude on speed and height;
their coefficients were not available to us, so:

- key-event phases and angles are the normal sagittal kinematics at self-selected speed
  (about 1.3 m/s) summarised in ../shared/REFERENCES.md section 6 (Winter 2009; Perry &
  Burnfield 2010) [memory: values from those ranges, not from a table read]: hip +35 deg
  peak flexion at 85 % and -10 deg peak extension at 50 % of the stride; knee 18 deg
  loading-response flexion at 15 %, 5 deg at 40 %, 62 deg peak swing flexion at 72 %, 2 deg
  at 97 %; ankle -5 deg at 7 %, +10 deg at 45 %, -18 deg at 62 %, +2 deg at 85 %;
- the stride time follows speed and height: stride length = ``STRIDE_PER_LEG`` leg lengths at
  1.3 m/s, growing as speed^0.42 (step length ~ v^0.42, Kuo 2001 J Biomech Eng 123:264
  [memory]); a guidance may set its own stride time, and then scales the hip's excursion
  with the stride length (:func:`hip_scale`); other amplitudes do not change.

Phases are fractions of the stride from heel strike; angles in rad, clinical signs.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from gaitsim.model import anthropometry as A

REFERENCE_SPEED_M_S = 1.3
#: stride length per leg length at the reference speed (1.44 m stride, Univ. Maryland norms
#: at 1.45 m/s in REFERENCES section 6, over a 0.93 m leg)
STRIDE_PER_LEG = 1.5
SPEED_EXPONENT = 0.42

_D = math.pi / 180.0
#: Key events (phase, angle in rad) of each joint, in phase order: the curve's extremes.
KEY_EVENTS: dict[str, tuple[tuple[float, float], ...]] = {
    "hip": ((0.50, -10 * _D), (0.85, 35 * _D)),
    "knee": ((0.15, 18 * _D), (0.40, 5 * _D), (0.72, 62 * _D), (0.97, 2 * _D)),
    "ankle": ((0.07, -5 * _D), (0.45, 10 * _D), (0.62, -18 * _D), (0.85, 2 * _D)),
}


def stride_time_s(speed_m_s: float, height_m: float) -> float:
    """Stride time of the reference at a walking speed for a body height (s)."""
    speed = max(speed_m_s, 0.05)
    leg = A.HIP_HEIGHT * height_m
    stride = STRIDE_PER_LEG * leg * (speed / REFERENCE_SPEED_M_S) ** SPEED_EXPONENT
    return stride / speed


def _table(joint: str) -> tuple[np.ndarray, np.ndarray]:
    """Key events extended by one period on each side (periodic interpolation)."""
    events = KEY_EVENTS[joint]
    phases = np.array([p for p, _ in events])
    angles = np.array([a for _, a in events])
    return (
        np.concatenate([phases - 1.0, phases, phases + 1.0]),
        np.concatenate([angles, angles, angles]),
    )


def centre_rad(joint: str) -> float:
    """The middle of a joint's reference range (rad): what an excursion scale keeps."""
    angles = [a for _, a in KEY_EVENTS[joint]]
    return 0.5 * (min(angles) + max(angles))


def hip_scale(speed_m_s: float, stride_s: float, height_m: float) -> float:
    """How much of the normal hip excursion a stride of ``stride_s`` at ``speed_m_s`` needs:
    the stride length over the reference's at 1.3 m/s (the thigh sweeps about the step),
    within [0.2, 1.2]. A modelling choice standing for Koopman 2014's speed-dependent
    amplitudes."""
    reference_stride = STRIDE_PER_LEG * A.HIP_HEIGHT * height_m
    return float(np.clip(speed_m_s * stride_s / reference_stride, 0.2, 1.2))


def angle(joint: str, phase, scale=1.0):
    """Reference angle (rad) and its rate per unit phase (rad per stride) at ``phase``, with
    the excursion about the joint's range centre scaled by ``scale`` (broadcasting; JAX or
    NumPy input, JAX output)."""
    p, a = (jnp.asarray(x, jnp.float32) for x in _table(joint))
    x = jnp.mod(jnp.asarray(phase, jnp.float32), 1.0)
    k = jnp.clip(jnp.searchsorted(p, x, side="right") - 1, 0, len(p) - 2)
    span = p[k + 1] - p[k]
    u = (x - p[k]) / span
    rise = a[k + 1] - a[k]
    value = a[k] + rise * u * u * (3.0 - 2.0 * u)
    rate = rise * 6.0 * u * (1.0 - u) / span
    mid = centre_rad(joint)
    return mid + scale * (value - mid), scale * rate


def tracking_error_rad(
    angles: np.ndarray, time_s: np.ndarray, joint: str, stride_s: float, phases: int = 200
) -> float:
    """RMS difference between a recorded joint angle and the reference cycle of period
    ``stride_s``, at the best phase offset (the timing a fixed-timing guidance would hold)."""
    t = np.asarray(time_s, float)
    q = np.asarray(angles, float)
    best = np.inf
    for offset in np.linspace(0.0, 1.0, phases, endpoint=False):
        ref, _ = angle(joint, offset + t / stride_s)
        best = min(best, float(np.sqrt(np.mean((q - np.asarray(ref)) ** 2))))
    return best

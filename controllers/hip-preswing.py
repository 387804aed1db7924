"""Pre-swing hip flexion assistance triggered by the device's own sensors: a constant flexion
torque on a hip module while its side's foot is still loaded and its thigh is behind the
vertical by more than ``thigh_behind_rad`` (late stance, before toe-off), zero otherwise.

The timing is that of the hip-flexion assistance of soft exosuits and hip exoskeletons in
late stance, which pulls the leg into swing (Ding et al. 2018, Sci Robot 3:eaar5438
[memory]); here the phase is read from the insole and thigh IMU at each tick instead of a
phase estimate over past strides, so it acts from the first step and follows every
stride's own timing.
"""

import jax.numpy as jnp


def params(context, torque_nm_kg=0.04, thigh_behind_rad=0.1, load_bw=0.05):
    modules = context.device.modules
    return {
        "torque": jnp.asarray(
            [torque_nm_kg * context.mass_kg if j == "hip" else 0.0 for _, j in modules],
            jnp.float32,
        ),
        "side": jnp.asarray([0 if s == "left" else 1 for s, _ in modules], jnp.int32),
        "behind": jnp.float32(-thigh_behind_rad),
        "load_n": jnp.float32(load_bw * context.mass_kg * 9.81),
    }


def init(params, spec):
    return jnp.zeros((), jnp.int32)


def step(params, state, obs):
    side = params["side"]
    loaded = obs["foot_load_n"][side] > params["load_n"]  # insoles: left, right
    behind = obs["thigh_angle_rad"][side] < params["behind"]  # thigh IMUs: left, right
    return state + 1, jnp.where(loaded & behind, params["torque"], 0.0)

"""A virtual spring at every knee module: torque = -stiffness * (angle - rest angle)."""

import jax.numpy as jnp


def params(context, stiffness_nm_rad=20.0, rest_angle_rad=0.2):
    n = context.device.size
    return {
        "stiffness": jnp.full(n, stiffness_nm_rad, jnp.float32),
        "rest": jnp.full(n, rest_angle_rad, jnp.float32),
        "on": jnp.asarray([j == "knee" for _, j in context.device.modules], jnp.float32),
    }


def init(params, spec):
    return jnp.zeros((), jnp.float32)  # no memory needed: a tick count


def step(params, state, obs):
    angle = obs["joint_angle_rad"]  # the module encoders, one per module
    torque = -params["stiffness"] * (angle - params["rest"]) * params["on"]
    return state + 1, torque

"""Treadmill, gait trainer (body-weight support, pelvis and trunk held) and guidance."""

from __future__ import annotations

import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.catalogue import resolve_scenario
from gaitsim.control import reference
from gaitsim.control.config import DeviceContext
from gaitsim.control.devices import device_controller
from gaitsim.metrics import summarize
from gaitsim.model import build_scenario
from gaitsim.sim.device import device_layout
from gaitsim.sim.simulation import simulate

HEALTHY = {"controller": {"kind": "reflex", "parameters": "healthy.json"}}


def test_on_a_treadmill_the_walker_stays_put_and_metrics_are_taken_on_the_belt():
    sc = spec.from_dict(
        {
            **HEALTHY,
            "course": {"kind": "treadmill", "belt_speed_m_s": 1.2},
            "run": {"duration_s": 5.0},
        }
    )
    trace = simulate(sc)
    assert trace.meta["termination"]["reason"] == "completed"
    assert trace["belt_velocity_m_s"][-1] == pytest.approx(-1.2, abs=0.01)
    pelvis = trace["pelvis_pos_m"][:, 0]
    assert abs(pelvis[-1] - pelvis[0]) < 1.0  # it walked 6 m over the belt
    summary = summarize(trace)
    assert summary.speed_m_s == pytest.approx(1.2, abs=0.15)
    assert summary.step_length_m["left"] > 0.4


def test_a_gait_trainer_needs_a_treadmill_and_brings_hip_and_knee_drives():
    with pytest.raises(spec.ScenarioError, match="course.kind = 'treadmill'"):
        spec.from_dict({"device": {"kind": "gait-trainer"}})
    sc = spec.from_dict({"course": {"kind": "treadmill"}, "device": {"kind": "gait-trainer"}})
    built = build_scenario(sc)
    assert built.device.modules == tuple((s, j) for s in C.SIDES for j in ("hip", "knee"))
    assert {a.name for a in built.device.actuators} == {"lokomat-drive"}
    # 30 % body-weight support upward on the pelvis at standing height
    data = mujoco.MjData(built.model)
    mujoco.mj_forward(built.model, data)
    support = data.actuator_force[built.model.actuator("trainer_support").id]
    assert support == pytest.approx(0.3 * built.mass_kg * C.G_M_S2)


def test_the_reference_passes_its_key_events_and_slows_with_speed():
    for joint, events in reference.KEY_EVENTS.items():
        for phase, angle in events:
            value, rate = reference.angle(joint, phase)
            assert float(value) == pytest.approx(angle, abs=1e-5)
            assert float(rate) == pytest.approx(0.0, abs=1e-3)  # extremes: zero slope
    slow, normal = (reference.stride_time_s(v, 1.75) for v in (0.5, 1.3))
    assert slow > normal
    # at the reference speed: 1.5 leg lengths per stride
    assert normal == pytest.approx(1.5 * 0.530 * 1.75 / 1.3, rel=1e-6)
    assert reference.stride_time_s(1.3, 1.95) > normal  # taller, longer strides


def test_zero_guidance_leaves_only_the_loss_compensation():
    sc = spec.from_dict({"course": {"kind": "treadmill"}, "device": {"kind": "gait-trainer"}})
    built = build_scenario(sc)
    context = DeviceContext(built.device, 200.0, 75.0, 1.75, 0.5)
    obs = {k: jnp.zeros(n) for k, n in device_layout(4)}
    obs["joint_angle_rad"] = jnp.array([0.6, 0.1, -0.2, 0.9])
    full = device_controller("guidance-impedance", context)
    _, torque = full.step(full.params, full.init(full.params, None), obs)
    assert float(jnp.abs(torque).max()) > 10.0
    params = {**full.params, "guidance": jnp.float32(0.0)}
    _, torque = full.step(params, full.init(params, None), obs)
    assert float(jnp.abs(torque).max()) < 1e-6  # at rest the compensation is zero too


def test_guidance_pulls_the_legs_onto_the_reference(tmp_path):
    base = spec.load(resolve_scenario("gait-trainer-severe-left"))
    errors = {}
    for level in (0.0, 1.0):
        config = tmp_path / f"guidance-{level}.toml"
        config.write_text(f'kind = "guidance"\nguidance = {level}\n', encoding="utf-8")
        sc = base.model_copy(
            update={
                "device": base.device.model_copy(update={"controller": str(config)}),
                "run": base.run.model_copy(update={"duration_s": 6.0}),
            }
        )
        trace = simulate(sc)
        stride = float(sc.device.controller_settings["stride_time_s"])
        keep = trace.time_s > 1.0
        errors[level] = np.mean(
            [
                reference.tracking_error_rad(
                    trace[C.angle_channel(j, s)][keep], trace.time_s[keep], j, stride
                )
                for s in C.SIDES
                for j in ("hip", "knee")
            ]
        )
    assert errors[1.0] < 0.7 * errors[0.0]


@pytest.mark.slow
def test_the_severe_patient_walks_60s_in_the_trainer_at_30pct_support_and_full_guidance():
    base = spec.load(resolve_scenario("gait-trainer-severe-left"))
    assert base.device.body_weight_support == 0.3
    assert base.device.controller == "guidance-impedance"  # 100 % guidance
    for seed in range(10):
        run = base.run.model_copy(
            update={
                "duration_s": 60.0,
                "seed": seed,
                "initial_angle_noise_rad": 0.02,
                "initial_speed_noise_m_s": 0.05,
            }
        )
        trace = simulate(base.model_copy(update={"run": run}))
        assert trace.meta["termination"]["reason"] == "completed", seed
        # it walks on its legs, not in the harness: support near the set 30 %
        weight = trace.meta["body"]["mass_kg"] * C.G_M_S2
        keep = trace.time_s > 2.0
        assert trace["support_force_n"][keep].mean() / weight < 0.35, seed
        strides = summarize(trace).n_strides
        assert min(strides.values()) >= 20, (seed, strides)

"""Exoskeleton modules: assembly on every body size, motor limits, cuffs, sensors, controllers."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.control import phase
from gaitsim.control.config import DeviceContext
from gaitsim.control.devices import ControllerConfigError, device_controller, load_config
from gaitsim.control.interface import Controller
from gaitsim.control.profile import bump
from gaitsim.model import build_model, build_scenario
from gaitsim.model.devices import ACTUATORS, saturate
from gaitsim.sim.compare import NO_DEVICE, compare, default_controllers, format_comparison
from gaitsim.sim.device import DeviceSensors, device_layout
from gaitsim.sim.record import device_channel
from gaitsim.sim.simulation import simulate

ALL_JOINTS = [{"joint": j} for j in C.JOINTS]


def _scenario(modules=ALL_JOINTS, **extra) -> spec.Scenario:
    return spec.from_dict(
        {"device": {"kind": "exoskeleton", "modules": modules}, **extra},
    )


@pytest.mark.parametrize("actuator", sorted(ACTUATORS))
@pytest.mark.parametrize(("height_m", "mass_kg"), [(1.50, 50.0), (1.75, 75.0), (1.95, 110.0)])
def test_every_actuator_builds_onto_every_body_size_and_its_mass_is_in_the_model(
    actuator, height_m, mass_kg
):
    patient = spec.from_dict({"patient": {"height_m": height_m, "mass_kg": mass_kg}}).patient
    device = _scenario([{"joint": j, "actuator": actuator} for j in C.JOINTS]).device
    bare = build_model(patient, spec.Course(), 0.0005)
    worn = build_model(patient, spec.Course(), 0.0005, device)
    expected = 6 * ACTUATORS[actuator].mass_kg  # housings; links add their own mass
    assert worn.device is not None and worn.device.size == 6
    assert worn.device.mass_kg > expected
    assert np.sum(worn.model.body_mass) == pytest.approx(bare.mass_kg + worn.device.mass_kg)
    assert worn.mass_kg == pytest.approx(bare.mass_kg)  # the person's mass is the person's
    assert worn.model.nu == bare.model.nu + 6
    assert worn.muscle_names == bare.muscle_names


def test_a_module_on_one_side_and_the_modules_order():
    built = build_scenario(_scenario([{"joint": "ankle", "side": "right"}, {"joint": "hip"}]))
    assert built.device.modules == (("left", "hip"), ("right", "hip"), ("right", "ankle"))


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ({"kind": "exoskeleton"}, "at least one module"),
        ({"kind": "none", "modules": [{"joint": "hip"}]}, "kind = 'none'"),
        ({"kind": "exoskeleton", "modules": [{"joint": "hip", "actuator": "x"}]}, "allowed: "),
        (
            {
                "kind": "exoskeleton",
                "modules": [{"joint": "hip"}, {"joint": "hip", "side": "left"}],
            },
            "two modules on the left hip",
        ),
        ({"kind": "exoskeleton", "modules": [{"joint": "elbow"}]}, r"device.modules\[0\].joint"),
        (
            {"kind": "exoskeleton", "modules": [{"joint": "hip", "cuff_stiffness_nm_rad": -1.0}]},
            "0.0 < value",
        ),
    ],
)
def test_bad_device_sections_name_the_field(device, message):
    with pytest.raises(spec.ScenarioError, match=message):
        spec.from_dict({"device": device})


def test_the_motor_envelope_limits_torque_and_driving_at_speed():
    peak, top = np.array([10.0]), np.array([20.0])
    assert saturate(np.array([50.0]), np.array([0.0]), peak, top) == pytest.approx(10.0)
    # driving at half the no-load speed: half the peak; braking keeps the full peak
    assert saturate(np.array([50.0]), np.array([10.0]), peak, top) == pytest.approx(5.0)
    assert saturate(np.array([-50.0]), np.array([10.0]), peak, top) == pytest.approx(-10.0)
    assert saturate(np.array([50.0]), np.array([30.0]), peak, top) == pytest.approx(0.0)


def _constant_torque(torque: float, n: int, rate_hz: float = 200.0) -> Controller:
    return Controller(
        "constant-torque",
        lambda params, spec: jnp.zeros((), jnp.float32),
        lambda params, state, obs: (state + 1, params * jnp.ones_like(obs["joint_angle_rad"])),
        jnp.float32(torque),
        rate_hz,
    )


def test_a_command_beyond_the_motor_is_saturated_and_the_cuff_carries_the_torque():
    sc = _scenario([{"joint": "knee", "side": "left"}], run={"duration_s": 0.5})
    peak = ACTUATORS["knee-orthosis-7to1"].peak_torque_nm
    trace = simulate(sc, device_controller=_constant_torque(1000.0, 1))
    command = trace.channels[device_channel("command_nm", "knee", "left")]
    torque = trace.channels[device_channel("torque_nm", "knee", "left")]
    interaction = trace.channels[device_channel("interaction_nm", "knee", "left")]
    assert command.max() == pytest.approx(1000.0)
    assert np.all(np.abs(torque) <= peak + 1e-9)
    # the safety layer clipped every tick's command to the peak and ramped the torque in at
    # its slew limit (peak in 20 ms); by then the knee moves and the torque-speed envelope
    # holds the torque below the peak
    assert trace.meta["safety"]["torque_limit"] == 100 and trace.meta["safety"]["rate_limit"] > 0
    assert 0.8 * peak < torque.max() < peak
    # whenever the motor pushes, the person feels it through the cuff (from the first step
    # on: at the instant the torque is switched on, t = 0, the cuff has not deflected yet)
    pushing = np.abs(torque) > 0.1
    pushing[0] = False
    assert pushing.sum() > 10
    assert np.all(np.abs(interaction[pushing]) > 0.0)
    # a knee-flexing torque flexes the knee of a standing body
    knee = trace.channels[C.angle_channel("knee", "left")]
    assert knee[-1] > knee[0] + 0.1


def test_device_sensors_quantise_delay_and_hold():
    settings = spec.DeviceSensing(
        encoder_bits=10,
        torque_noise_nm=0.0,
        imu_angle_noise_rad=0.0,
        imu_rate_noise_rad_s=0.0,
        insole_noise_n=0.0,
        insole_rate_hz=50.0,
        latency_s=0.01,
    )
    layout = dict(device_layout(1))
    sensors = DeviceSensors(settings, 1, 0.005, [np.random.default_rng(0)])
    lsb = 2 * np.pi / 1024

    def true(k: int) -> dict:
        z = np.zeros(2)
        return {
            "joint_angle_rad": np.array([0.3 + 0.001 * k]),
            "joint_velocity_rad_s": np.array([0.2]),
            "motor_torque_nm": np.array([1.0]),
            "foot_load_n": np.array([100.0 * k, 0.0]),
            "thigh_angle_rad": z,
            "thigh_rate_rad_s": z,
            "shank_angle_rad": z,
            "shank_rate_rad_s": z,
        }

    reads = [sensors.read(true(k)) for k in range(8)]
    assert len(reads[0]) == sum(layout.values())
    angle = np.array([r[0] for r in reads])
    assert np.allclose(angle / lsb, np.round(angle / lsb), atol=1e-3)  # on the encoder's grid
    # 10 ms at 200 Hz: two ticks late (the first reading repeats until the line is full)
    assert angle[2] == pytest.approx(round(0.3 / lsb) * lsb, abs=1e-6)
    assert angle[4] == pytest.approx(round(0.302 / lsb) * lsb, abs=1e-6)
    load = np.array([r[3 + 0] for r in reads])  # foot_load_n left (after 3 module entries)
    # 50 Hz insoles at a 200 Hz device: a new sample every 4 ticks, then two ticks late
    assert list(load[2:8]) == [0.0, 0.0, 0.0, 0.0, 400.0, 400.0]


def test_sensor_noise_is_seeded():
    settings = spec.DeviceSensing()
    a = DeviceSensors(settings, 2, 0.005, [np.random.default_rng(3)])
    b = DeviceSensors(settings, 2, 0.005, [np.random.default_rng(3)])
    z2 = {k: np.ones(n) for k, n in device_layout(2)}
    assert np.array_equal(a.read(z2), b.read(z2))


def test_transparent_mode_compensates_friction_along_the_motion():
    built = build_scenario(_scenario([{"joint": "hip", "side": "left"}]))
    ctrl = device_controller("transparent", DeviceContext(built.device, 200.0, 75.0, 1.75))
    state = ctrl.init(ctrl.params, None)
    obs = {k: jnp.zeros(n) for k, n in device_layout(1)}
    obs["joint_velocity_rad_s"] = jnp.array([2.0])
    state, torque = ctrl.step(ctrl.params, state, obs)
    friction = ACTUATORS["ak80-9"].friction_nm
    assert 0.5 * friction < float(torque[0]) < 1.5 * friction
    obs["joint_velocity_rad_s"] = jnp.array([-2.0])
    _, torque = ctrl.step(ctrl.params, state, obs)
    assert float(torque[0]) < 0.0


def test_bad_controller_configurations_name_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "transparent"\nfriction_compensation = 2.0\n')
    with pytest.raises(ControllerConfigError, match="friction_compensation"):
        load_config(str(bad))
    bad.write_text('kind = "teleport"\n')
    with pytest.raises(ControllerConfigError, match="allowed: "):
        load_config(str(bad))
    bad.write_text('kind = "transparent"\ngain = 1.0\n')
    with pytest.raises(ControllerConfigError, match="gain"):
        load_config(str(bad))


def test_the_healthy_patient_walks_on_in_a_transparent_hip_exoskeleton():
    sc = spec.from_dict(
        {
            "controller": {"kind": "reflex", "parameters": "healthy.json"},
            "device": {"kind": "exoskeleton", "modules": [{"joint": "hip"}]},
            "run": {"duration_s": 4.0},
        }
    )
    trace = simulate(sc)
    assert trace.meta["termination"]["reason"] == "completed"
    for side in C.SIDES:
        assert np.abs(trace.channels[device_channel("interaction_nm", "hip", side)]).max() > 0.1


def test_a_bump_rises_peaks_and_falls_and_wraps_over_heel_strike():
    phi = jnp.linspace(0.0, 1.0, 1001)
    torque = np.asarray(bump(phi, 10.0, 0.5, 0.2, 0.1))
    assert torque[500] == pytest.approx(10.0)
    assert torque[:300].max() == 0.0 and torque[600:].max() == 0.0
    assert np.all(np.diff(torque[300:500]) >= 0) and np.all(np.diff(torque[500:600]) <= 0)
    # a bump from 0.9 of the previous stride to 0.2 of this one (hip extension)
    wrapped = np.asarray(bump(phi, -5.0, 0.05, 0.15, 0.15))
    assert wrapped[950] < 0 and wrapped[50] == pytest.approx(-5.0) and wrapped[500] == 0.0


def test_the_phase_estimate_times_strides_from_heel_strikes():
    state = phase.init()
    bw, dt = jnp.float32(700.0), 0.005
    stride_s = 1.0
    for k in range(int(6 * stride_s / dt)):
        t = k * dt
        load = jnp.array([700.0 if (t % stride_s) < 0.6 else 0.0, 0.0])
        state, phi, _ = phase.update(state, load, bw, dt)
    assert int(state["timed"][0]) == 5  # 6 strikes (the first at t = 1 s), 5 timed strides
    assert float(jnp.mean(state["strides_s"][0])) == pytest.approx(stride_s, abs=0.01)
    assert float(phi[0]) == pytest.approx(((6 * stride_s - dt) % stride_s) / stride_s, abs=0.02)


def test_the_profile_assists_only_once_the_phase_is_trusted():
    built = build_scenario(_scenario([{"joint": "ankle", "side": "left"}]))
    ctrl = device_controller("ankle-profile", DeviceContext(built.device, 200.0, 70.0, 1.75))
    state = ctrl.init(ctrl.params, None)
    step = jax.jit(ctrl.step)
    obs = {k: jnp.zeros(n) for k, n in device_layout(1)}
    peaks = []
    for _ in range(10):
        worst = 0.0
        for k in range(200):  # 1 s strides at 200 Hz, stance 60 %
            obs["foot_load_n"] = jnp.array([700.0 if k < 120 else 0.0, 700.0])
            state, torque = step(ctrl.params, state, obs)
            worst = min(worst, float(torque[0]))
        peaks.append(worst)
    assert all(abs(p) < 0.5 for p in peaks[:3])  # transparent only, while strides are timed
    assert peaks[-1] == pytest.approx(-0.3 * 70.0, rel=0.05)  # 0.3 N m/kg plantarflexion
    assert abs(peaks[4]) < abs(peaks[-1])  # ramping up


def test_compare_runs_the_same_seeds_with_and_without_the_device():
    sc = spec.from_dict(
        {
            "controller": {"kind": "reflex", "parameters": "healthy.json"},
            "device": {"kind": "exoskeleton", "modules": [{"joint": "hip"}]},
        }
    )
    assert "transparent" in default_controllers(sc)
    assert "ankle-profile" not in default_controllers(sc)  # no ankle module to drive
    result = compare(sc, ["transparent"], [1], 2.0)
    assert list(result["conditions"]) == [NO_DEVICE, "transparent"]
    bare, worn = (result["conditions"][k]["mean"] for k in (NO_DEVICE, "transparent"))
    assert bare["device_work_j"] is None and worn["device_work_j"] is not None
    assert bare["metabolic_w_kg"] > 0
    assert "falls" in format_comparison(result)
    json.dumps(result, allow_nan=False)


def _policy(tmp_path, n_modules: int, **override) -> str:
    rng = np.random.default_rng(0)
    n_in = 2 * n_modules + 2  # joint angles and velocities, foot loads
    weights = {
        "w0": rng.normal(size=(n_in, 16)).astype(np.float32),
        "b0": np.zeros(16, np.float32),
        "w1": rng.normal(size=(16, n_modules)).astype(np.float32),
        "b1": np.zeros(n_modules, np.float32),
        "obs_mean": np.zeros(n_in, np.float32),
        "obs_std": np.ones(n_in, np.float32),
        **override,
    }
    np.savez(tmp_path / "mlp.npz", **weights)
    config = tmp_path / "mlp.toml"
    config.write_text(
        'kind = "policy"\nweights = "mlp.npz"\naction_scale_nm = 5.0\n'
        'observations = ["joint_angle_rad", "joint_velocity_rad_s", "foot_load_n"]\n',
        encoding="utf-8",
    )
    return str(config)


def test_a_policy_is_an_mlp_of_its_weights_file(tmp_path):
    built = build_scenario(_scenario([{"joint": "hip"}]))
    context = DeviceContext(built.device, 200.0, 75.0, 1.75)
    ctrl = device_controller(_policy(tmp_path, 2), context)
    obs = {k: jnp.zeros(n) for k, n in device_layout(2)}
    obs["joint_angle_rad"] = jnp.array([0.3, -0.2])
    obs["foot_load_n"] = jnp.array([1.0, 0.0])
    _, torque = jax.jit(ctrl.step)(ctrl.params, ctrl.init(ctrl.params, None), obs)
    w = np.load(tmp_path / "mlp.npz")
    # scaled as the environment scales them (gaitsim.control.features): loads over body weight
    x = np.array([0.3, -0.2, 0.0, 0.0, 1.0 / (75.0 * 9.81), 0.0])
    expected = 5.0 * np.tanh(np.tanh(x @ w["w0"] + w["b0"]) @ w["w1"] + w["b1"])
    np.testing.assert_allclose(np.asarray(torque), expected, rtol=1e-5)
    # the same policy drives a simulation
    sc = _scenario([{"joint": "hip"}], run={"duration_s": 0.2})
    sc = sc.model_copy(
        update={"device": sc.device.model_copy(update={"controller": _policy(tmp_path, 2)})}
    )
    assert simulate(sc).meta["termination"]["reason"] == "completed"


def test_a_policy_that_does_not_fit_its_device_is_refused(tmp_path):
    built = build_scenario(_scenario([{"joint": "hip"}, {"joint": "knee"}]))
    context = DeviceContext(built.device, 200.0, 75.0, 1.75)
    with pytest.raises(ControllerConfigError, match="inputs"):
        device_controller(_policy(tmp_path, 2), context)  # 4 modules: more inputs


def test_emg_envelopes_follow_the_muscles_excitation():
    seen = []

    def recorder(params, state, obs):
        return state + 1, jnp.zeros_like(obs["joint_angle_rad"]) + 0.0 * obs["emg"][0]

    probe = Controller(
        "probe", lambda p, s: jnp.zeros((), jnp.float32), recorder, jnp.zeros(()), 200.0
    )
    sc = _scenario(
        [{"joint": "hip", "side": "left"}],
        controller={"kind": "constant", "excitation": 0.3},
        run={"duration_s": 0.5},
    )
    sensing = sc.device.sensing.model_copy(update={"emg": True})
    sc = sc.model_copy(update={"device": sc.device.model_copy(update={"sensing": sensing})})
    built = build_scenario(sc)
    from gaitsim.sim.device import DeviceRunner, true_measurements
    from gaitsim.sim.sensing import body_index

    runner = DeviceRunner(sc, built, body_index(built.model), 0, probe)
    data = mujoco.MjData(built.model)
    data.ctrl[:18] = 0.3
    mujoco.mj_forward(built.model, data)
    for _ in range(100):
        runner.tick(data)
        seen.append(runner.sensors.read(true_measurements(data, runner.index, 18))[-18:])
    envelope = np.array(seen[20:])
    assert envelope.mean() == pytest.approx(0.3 + 0.01 * np.sqrt(2 / np.pi), rel=0.05)
    assert 0.0 < envelope.std() < 0.05 * 0.3 * 3
    assert simulate(sc, device_controller=probe).meta["termination"]["reason"] == "completed"


def test_a_custom_controller_is_a_python_file_named_by_a_configuration(tmp_path):
    sc = _scenario([{"joint": "knee"}], run={"duration_s": 0.3})
    sc = sc.model_copy(
        update={"device": sc.device.model_copy(update={"controller": "knee-spring"})}
    )
    trace = simulate(sc)
    angle = trace[device_channel("angle_rad", "knee", "left")]
    command = trace[device_channel("command_nm", "knee", "left")]
    np.testing.assert_allclose(command[1:], -20.0 * (angle[:-1] - 0.2), atol=0.5)
    broken = tmp_path / "broken.py"
    broken.write_text("def init(params, spec):\n    return 0\n", encoding="utf-8")
    config = tmp_path / "broken.toml"
    config.write_text('kind = "custom"\nmodule = "broken.py"\n', encoding="utf-8")
    built = build_scenario(sc)
    with pytest.raises(ControllerConfigError, match="params, step"):
        device_controller(str(config), DeviceContext(built.device, 200.0, 75.0, 1.75))


def test_the_envs_squared_interaction_is_the_interaction_torques():
    from gaitsim.catalogue import resolve_scenario
    from gaitsim.model.devices import cuff_terms, interaction_sq, interaction_torque_of

    built = build_scenario(spec.load(resolve_scenario("gait-trainer-severe-left")))
    device = built.device
    assert device is not None and device.size == 4
    rng = np.random.default_rng(0)
    for _ in range(5):
        qpos = rng.normal(size=built.model.nq)
        qvel = rng.normal(size=built.model.nv)
        torque = interaction_torque_of(qpos, qvel, device)
        expected = float(np.dot(torque, torque))
        assert interaction_sq(qpos, qvel, cuff_terms(device)) == pytest.approx(expected, rel=1e-12)


def test_the_safety_layer_sits_between_every_simulated_controller_and_the_motors():
    """DESIGN: the robot's safety filter in simulation too. A controller that commands NaN
    after 0.1 s latches the protective stop (zero torque from then on, the run goes on and
    says so); a policy's full-scale reversals in the Gymnasium env (single and vector form)
    reach the motor at most one slew step per tick."""
    from gaitsim.env import load_env_config
    from gaitsim.env.single import GaitEnv
    from gaitsim.env.vector import GaitVectorEnv
    from gaitsim.hardware.safety import RATE_PER_S_OF_PEAK

    broken = Controller(
        "nan-after-20-ticks",
        lambda params, spec: jnp.zeros((), jnp.float32),
        lambda params, state, obs: (
            state + 1,
            jnp.where(state >= 20, jnp.nan, 5.0) * jnp.ones_like(obs["joint_angle_rad"]),
        ),
        jnp.float32(0.0),
        200.0,
    )
    sc = _scenario([{"joint": "knee", "side": "left"}], run={"duration_s": 0.5})
    trace = simulate(sc, device_controller=broken)
    torque = trace.channels[device_channel("torque_nm", "knee", "left")]
    time = trace.time_s
    assert trace.meta["termination"]["reason"] == "completed"
    assert np.abs(torque[(time > 0.03) & (time < 0.09)]).min() > 1.0  # it pushed
    assert np.all(torque[time > 0.105] == 0.0)  # then zero, latched
    stops = [e for e in trace.events if e.kind == "safety_stop"]
    assert len(stops) == 1 and stops[0].time_s == pytest.approx(0.1, abs=0.006)
    assert trace.meta["safety"]["stop"] == 80  # ticks 20..99 held at zero

    config = load_env_config("hip-exo-assist").model_copy(update={"action_scale_nm": 100.0})
    env = GaitEnv(config)
    env.reset(seed=1)
    device = env.unwrapped.episode.sim.device
    step = RATE_PER_S_OF_PEAK * device.device.peak_torque_nm[0] / device.rate_hz
    previous = 0.0
    vector = GaitVectorEnv(config, 2)
    vector.reset(seed=[1, 2])
    for k in range(40):
        action = np.array([1.0 if k % 10 < 5 else -1.0], np.float32)
        env.step(action)
        vector.step(np.stack([action, action]))
        torque = device.torque[0]
        assert abs(torque - previous) <= step + 1e-9 or abs(torque) < abs(previous)
        previous = torque
    assert env.unwrapped.episode.sim.device.safety.counts["rate_limit"] > 0
    assert vector._safety.counts["rate_limit"] > 0


def test_the_pre_swing_hip_assist_acts_only_in_late_stance_of_its_own_side():
    """controllers/hip-preswing: flexion torque (0.04 N m/kg) while the module's foot is
    loaded and its thigh is more than 0.1 rad behind the vertical; each module reads its own
    side's insole and thigh IMU."""
    built = build_scenario(
        _scenario([{"joint": "hip", "side": "right"}, {"joint": "hip", "side": "left"}])
    )
    assert [s for s, _ in built.device.modules] == ["left", "right"]
    c = device_controller("hip-preswing", DeviceContext(built.device, 200.0, 75.0, 1.75))
    state = c.init(c.params, None)
    bw = 75.0 * 9.81

    def torque(load_n, thigh_rad):
        obs = {
            "foot_load_n": jnp.asarray(load_n, jnp.float32),  # left, right
            "thigh_angle_rad": jnp.asarray(thigh_rad, jnp.float32),
        }
        return np.asarray(c.step(c.params, state, obs)[1])

    peak = 0.04 * 75.0
    # right foot loaded with its thigh behind: late stance on the right only
    np.testing.assert_allclose(torque([0.0, 0.5 * bw], [0.3, -0.2]), [0.0, peak], rtol=1e-6)
    np.testing.assert_allclose(torque([0.5 * bw, 0.0], [-0.2, 0.3]), [peak, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(torque([0.5 * bw, 0.5 * bw], [-0.05, 0.0]), [0.0, 0.0])
    np.testing.assert_array_equal(torque([0.01 * bw, 0.01 * bw], [-0.3, -0.3]), [0.0, 0.0])

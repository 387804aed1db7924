"""The simulation core: termination reasons, determinism, the Trace file, sensing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.control.interface import Controller
from gaitsim.sim.simulation import Simulation, simulate
from gaitsim.sim.trace import Trace


def _scenario(**sections):
    return spec.from_dict(sections)


def test_passive_body_dropped_on_the_ground_ends_with_fall():
    trace = simulate(_scenario(controller={"kind": "passive"}, run={"duration_s": 3.0}))
    assert trace.meta["termination"]["reason"] == "fall"
    assert trace.meta["termination"]["time_s"] < 3.0
    assert trace.events[-1].kind == "fall"


def test_absurd_physics_step_ends_with_numerical_instability_without_raising():
    trace = simulate(_scenario(run={"duration_s": 2.0, "physics_step_s": 0.05}))
    assert trace.meta["termination"]["reason"] == "numerical_instability"
    for values in trace.channels.values():
        assert np.isfinite(values).all()


def _length_feedback(params, state, obs):
    """A controller whose command depends on the (noisy) measurements."""
    return state, jnp.clip(0.2 * obs["muscle_length_m"], 0.01, 1.0)


def test_same_scenario_and_seed_give_a_bit_identical_trace():
    sc = _scenario(run={"duration_s": 0.4}, controller={"sensor_noise_std": 0.05})
    ctrl = Controller("feedback", lambda p, s: 0, _length_feedback, None, 100.0)
    a, b = simulate(sc, seed=3, controller=ctrl), simulate(sc, seed=3, controller=ctrl)
    assert a.channels.keys() == b.channels.keys()
    for name in a.channels:
        assert np.array_equal(a[name], b[name]), name
    c = simulate(sc, seed=4, controller=ctrl)
    assert not np.array_equal(a["muscle_excitation"], c["muscle_excitation"])


def test_trace_round_trips_through_one_compressed_file(tmp_path):
    trace = simulate(_scenario(run={"duration_s": 0.2}))
    path = trace.save(tmp_path / "t.npz")
    loaded = Trace.load(path)
    assert loaded.meta == trace.meta
    assert loaded.events == trace.events
    for name in trace.channels:
        assert np.array_equal(loaded[name], trace[name])
    assert loaded.meta["versions"]["mujoco"]
    assert loaded.meta["scenario"]["patient"]["height_m"] == 1.75
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temp file left behind


def test_trace_has_the_documented_channels_with_consistent_shapes():
    trace = simulate(_scenario(run={"duration_s": 0.2, "record_rate_hz": 100}))
    n = len(trace)
    assert n == 21  # 0.0 .. 0.2 s at 100 Hz, inclusive of the final state
    for side in C.SIDES:
        for joint in C.JOINTS:
            assert trace[C.angle_channel(joint, side)].shape == (n,)
        assert trace[C.grf_channel(side)].shape == (n, 3)
    assert trace["muscle_force_n"].shape == (n, 18)
    assert len(trace.meta["muscle_names"]) == 18
    # standing at t = 0: both feet carry roughly body weight between them
    weight = trace.meta["body"]["mass_kg"] * 9.81
    support = trace[C.grf_channel("left")][5:, 2] + trace[C.grf_channel("right")][5:, 2]
    assert 0.5 * weight < np.median(support[:5]) < 1.5 * weight


def test_muscle_forces_grow_with_excitation():
    low = simulate(_scenario(run={"duration_s": 0.1}, controller={"excitation": 0.05}))
    high = simulate(_scenario(run={"duration_s": 0.1}, controller={"excitation": 0.5}))
    assert high["muscle_activation"][-1].mean() > 5 * low["muscle_activation"][-1].mean()
    assert high["muscle_force_n"][-1].sum() > low["muscle_force_n"][-1].sum()


def test_a_failing_controller_ends_the_run_with_a_reason():
    def broken_step(params, state, obs):
        raise RuntimeError("boom")

    ctrl = Controller("broken", lambda p, s: 0, broken_step, None, 100.0)
    trace = simulate(_scenario(run={"duration_s": 0.2}), controller=ctrl)
    assert trace.meta["termination"]["reason"] == "controller_error"
    assert "boom" in trace.meta["termination"]["detail"]


def test_a_controller_failing_before_the_first_step_ends_the_run_at_zero(monkeypatch):
    """The reflex patient's muscles are pre-activated by its controller before the run: a
    failure there ends the run as a controller error, not as a completed run."""

    def broken(*args):
        raise RuntimeError("boom at the start")

    monkeypatch.setattr("gaitsim.sim.simulation.settle_activation", broken)
    sc = _scenario(
        controller={"kind": "reflex", "parameters": "healthy.json"}, run={"duration_s": 0.2}
    )
    end = simulate(sc).meta["termination"]
    assert (end["reason"], end["time_s"]) == ("controller_error", 0.0)
    assert "boom at the start" in end["detail"]


def test_controller_runs_at_its_own_rate_and_sees_delayed_measurements():
    calls = []

    def step(params, state, obs):
        jax.debug.callback(lambda load: calls.append(float(load)), obs["foot_load_n"][0])
        return state, jnp.full(18, 0.05)

    ctrl = Controller("probe", lambda p, s: 0, step, None, 50.0)
    sc = _scenario(run={"duration_s": 0.2}, controller={"sensor_delay_s": 0.01})
    trace = simulate(sc, controller=ctrl)
    assert trace.meta["termination"]["reason"] != "controller_error"
    assert len(calls) == 10  # 0.2 s at 50 Hz
    assert calls[0] > 0  # standing start: the left foot is loaded from the first call


def test_progress_callback_reaches_one():
    seen = []
    simulate(_scenario(run={"duration_s": 0.1}), progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_the_recording_rate_does_not_change_the_dynamics():
    run = {"duration_s": 0.6}
    ctrl = {"kind": "reflex", "parameters": "nominal.json"}
    slow = simulate(_scenario(run={**run, "record_rate_hz": 50}, controller=ctrl))
    fast = simulate(_scenario(run={**run, "record_rate_hz": 500}, controller=ctrl))
    assert slow.meta["termination"] == fast.meta["termination"]
    common = np.isin(fast.time_s.round(6), slow.time_s.round(6))
    np.testing.assert_array_equal(fast["knee_left_angle_rad"][common], slow["knee_left_angle_rad"])


def test_a_simulation_driven_tick_by_tick_from_outside_matches_simulate():
    """The stepping API a Gymnasium env uses: with the device's command written between
    advances of one device tick, the run is the one ``simulate`` gives with a controller that
    commands the same torques."""
    sc = spec.from_dict(
        {
            "controller": {"kind": "reflex", "parameters": "healthy.json"},
            "device": {"kind": "exoskeleton", "modules": [{"joint": "hip"}]},
            "run": {"duration_s": 1.0, "seed": 3, "initial_angle_noise_rad": 0.02},
        }
    )
    constant = Controller(
        "constant",
        lambda p, s: jnp.zeros((), jnp.float32),
        lambda p, s, obs: (s + 1, p * jnp.ones_like(obs["joint_angle_rad"])),
        jnp.float32(2.0),
        200.0,
    )
    reference = simulate(sc, device_controller=constant)
    sim = Simulation(sc, external_device=True)
    ticks = 0
    while not sim.done:
        obs = sim.device.observe(sim.data)
        assert obs.shape == (sum(n for _, n in sim.device.layout),)
        sim.device.act(sim.data, np.full(2, 2.0))
        sim.advance(sim.device_every)
        ticks += 1
    trace = sim.finish()
    assert ticks == 200
    assert trace.meta["termination"] == reference.meta["termination"]
    for name, values in reference.channels.items():
        np.testing.assert_array_equal(trace[name], values, err_msg=name)


def test_a_run_without_recording_has_the_same_dynamics():
    sc = spec.from_dict(
        {
            "controller": {"kind": "reflex", "parameters": "healthy.json"},
            "run": {"duration_s": 0.5, "seed": 2, "initial_angle_noise_rad": 0.02},
        }
    )
    recorded = simulate(sc)
    quiet = Simulation(sc, record=False)
    quiet.advance(quiet.n_steps)
    final = quiet.finish()
    assert len(final) == 1  # the final state only
    for name, values in recorded.channels.items():
        np.testing.assert_array_equal(final[name][-1], values[-1], err_msg=name)

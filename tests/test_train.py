"""Training, export and evaluation: the exported JAX policy acts as the torch policy did, and
``gaitsim compare`` reproduces a trained policy's evaluation."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from click.testing import CliRunner

from gaitsim.cli import main
from gaitsim.control.config import DeviceContext
from gaitsim.control.devices import device_controller
from gaitsim.env import load_env_config
from gaitsim.env.export import export_policy
from gaitsim.env.single import GaitEnv
from gaitsim.env.train import TrainConfig, evaluate, train
from gaitsim.sim.compare import compare


def _config(episode_s: float = 1.0):
    return load_env_config("hip-exo-assist").model_copy(update={"episode_s": episode_s})


def _model(algo: str, env: GaitEnv):
    import stable_baselines3 as sb3

    if algo.startswith("ppo"):  # gSDE exploration is what gaitsim train uses
        return sb3.PPO("MlpPolicy", env, device="cpu", seed=0, use_sde=algo == "ppo-gsde")
    return sb3.SAC("MlpPolicy", env, device="cpu", seed=0, buffer_size=1000)


@pytest.mark.parametrize("algo", ["ppo", "ppo-gsde", "sac"])
def test_the_exported_policy_gives_the_torch_policys_actions(tmp_path, algo):
    config = _config()
    env = GaitEnv(config)
    model = _model(algo, env)
    # push the outputs off zero so clipping / squashing is exercised (PPO's head starts at
    # a gain of 0.01)
    ppo = algo.startswith("ppo")
    head = model.policy.action_net if ppo else model.policy.actor.mu
    head.weight.data.mul_(300.0 if ppo else 30.0)
    path = export_policy(model, config, tmp_path)
    obs, _ = env.reset(seed=4)
    sim = env.unwrapped._sim
    context = DeviceContext(sim.built.device, 200.0, sim.built.mass_kg, sim.built.height_m)
    ctrl = device_controller(str(path), context)
    from gaitsim.sim.device import device_layout
    from gaitsim.sim.sensing import unpack

    layout = device_layout(sim.built.device.size)
    step = jax.jit(ctrl.step)
    state = ctrl.init(ctrl.params, None)
    torques, actions = [], []
    for _ in range(150):
        action = model.predict(obs, deterministic=True)[0]
        state, torque = step(ctrl.params, state, unpack(env.last_measurement, layout))
        torques.append(np.asarray(torque))
        actions.append(np.clip(action, -1, 1) * config.action_scale_nm)
        obs, *_ = env.step(action)
    torques, actions = np.array(torques), np.array(actions)
    assert np.abs(actions).max() > 0.3 * config.action_scale_nm  # not all near zero
    np.testing.assert_allclose(torques, actions, rtol=1e-4, atol=1e-4)


def test_train_checkpoints_exports_and_compare_reproduces_its_evaluation(tmp_path):
    env_file = tmp_path / "short.toml"
    env_file.write_text(
        'id = "gaitsim/ShortHip-v0"\nscenario = "exo-hip-moderate-left"\nepisode_s = 3.0\n'
        "action_scale_nm = 10.0\nrate_hz = 50.0\n[observation]\n"
        'sensors = ["joint_angle_rad", "joint_velocity_rad_s", "foot_load_n"]\nhistory = 2\n',
        encoding="utf-8",
    )
    out = tmp_path / "run"
    config = TrainConfig(
        str(env_file),
        "ppo",
        1024,
        out,
        n_envs=2,
        checkpoint_every=512,
        eval_seeds=[1001, 1002],
        validate_every=512,
        validation_seeds=[2001],
    )
    result = train(config, progress=lambda line: None)
    assert (out / "model.zip").is_file() and (out / "policy.npz").is_file()
    # model selection: a check every 512 steps and at the end (PPO runs whole rollouts of
    # 4096 steps), the best one exported and evaluated
    checks = json.loads((out / "validation.json").read_text())["checks"]
    assert [c["steps"] for c in checks] == list(range(512, result["steps"] + 1, 512))
    best = max(checks, key=lambda c: c["return"])
    assert result["selected_steps"] == best["steps"]
    # gaitsim export finds the run's environment (here a file, not a catalogue id)
    exported = CliRunner().invoke(main, ["export", str(out), "--out", str(tmp_path / "x")])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "x" / "policy.npz").is_file()
    # the policy decides at its environment's rate wherever it runs (the scenario's device
    # runs at 200 Hz; compare below reproduces the 50 Hz evaluation only at 50 Hz)
    assert "rate_hz = 50.0" in (out / "policy.toml").read_text()
    assert sorted(p.name for p in (out / "checkpoints").glob("*.zip"))
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["trained"]["mean"]["return"] == pytest.approx(result["trained"]["mean"]["return"])
    assert len(saved["trained"]["runs"]) == 2 and "sd" in saved["trained"]
    # the same seeds through gaitsim compare: the exported (JAX) policy and zero torque
    from gaitsim import spec
    from gaitsim.catalogue import resolve_scenario

    scenario = spec.load(resolve_scenario("exo-hip-moderate-left"))
    compared = compare(scenario, [result["policy"], "zero-torque"], [1001, 1002], 3.0)
    for name, key in (("policy", "trained"), ("zero-torque", "zero_torque")):
        rows = compared["conditions"][name]["runs"]
        for row, run in zip(rows, result[key]["runs"], strict=True):
            assert row["fell"] == run["fell"]
            assert row["speed_m_s"] == pytest.approx(run["speed_m_s"], rel=1e-3, abs=1e-3)
    # resuming continues from the newest checkpoint
    more = TrainConfig(
        str(env_file),
        "ppo",
        1536,
        out,
        n_envs=2,
        checkpoint_every=512,
        eval_seeds=[1001],
        resume=True,
        validate_every=512,
        validation_seeds=[2001],
    )
    assert train(more, progress=lambda line: None)["steps"] >= 1536


def test_zero_torque_evaluation_is_the_zero_action():
    config = _config(0.5)
    a = evaluate(config, None, [1001])
    b = evaluate(config, lambda obs: np.zeros(1, np.float32), [1001])
    assert a["runs"][0]["return"] == b["runs"][0]["return"]


def test_train_and_export_commands_refuse_bad_input(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["train", "gaitsim/NoSuch-v0", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "NoSuch" in result.output
    result = runner.invoke(main, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "run.json" in result.output
    assert "gaitsim/HipExoAssist-v1" in runner.invoke(main, ["envs"]).output


def test_every_id_is_described_from_its_file():
    from gaitsim.env import ENV_IDS

    runner = CliRunner()
    for env_id in ENV_IDS:
        out = runner.invoke(main, ["envs", env_id])
        assert out.exit_code == 0, out.output
        assert "## Observation" in out.output and "| fall |" in out.output
    assert runner.invoke(main, ["envs", "gaitsim/NoSuch-v0"]).exit_code == 2

"""The vector form: member-for-member the single environment, Gymnasium 1.x autoreset,
stable-baselines3 on top of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitsim.env import load_env_config
from gaitsim.env.single import GaitEnv
from gaitsim.env.vector import GaitVectorEnv


def _short(name: str = "hip-exo-assist", episode_s: float = 0.25):
    """A catalogue environment with short episodes (50 steps at 200 Hz): resets come soon."""
    return load_env_config(name).model_copy(update={"episode_s": episode_s})


def _randomised():
    """Every per-episode draw at once (body, cuff stiffness, sensor noise and latency), and
    every reward term."""
    config = _short(episode_s=2.0)
    r = config.randomization.model_copy(
        update={
            "cuff_stiffness_scale": (0.5, 2.0),
            "sensor_noise_scale": (0.5, 3.0),
            "sensor_latency_s": (0.0, 0.02),
        }
    )
    w = config.reward.model_copy(update={"effort": 0.1, "symmetry": 1.0})
    return config.model_copy(update={"randomization": r, "reward": w})


def _actions(steps: int, n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (steps, n, size)).astype(np.float32)


@pytest.mark.parametrize("name", ["hip-exo-assist", "gait-trainer-aan", "randomised"])
def test_each_member_is_the_single_environment_with_its_seed_across_autoresets(name):
    config = _randomised() if name == "randomised" else _short(name)
    n, steps = 3, 450 if name == "randomised" else 120
    venv = GaitVectorEnv(config, n)
    singles = [GaitEnv(config) for _ in range(n)]
    vobs, _ = venv.reset(seed=11)
    pending: list[np.ndarray | None] = [None] * n
    for i, env in enumerate(singles):
        obs, _ = env.reset(seed=11 + i)
        np.testing.assert_array_equal(vobs[i], obs)
    resets = 0
    for a in _actions(steps, n, venv.single_action_space.shape[0]):
        vobs, vrew, vterm, vtrunc, info = venv.step(a)
        for i, env in enumerate(singles):
            if pending[i] is not None:  # NEXT_STEP: the vector env resets now, action unused
                np.testing.assert_array_equal(vobs[i], pending[i])
                assert vrew[i] == 0.0 and not vterm[i] and not vtrunc[i]
                pending[i] = None
                continue
            obs, reward, term, trunc, single_info = env.step(a[i])
            np.testing.assert_array_equal(vobs[i], obs)
            assert vrew[i] == pytest.approx(reward, rel=1e-6, abs=1e-9)  # float32 sums
            assert (vterm[i], vtrunc[i]) == (term, trunc)
            assert info["strides"][i] == single_info["strides"]
            if term or trunc:
                assert info["termination_reason"][i] == single_info["termination_reason"]
                pending[i] = env.reset()[0]
                resets += 1
    assert resets >= n  # every member went through at least one autoreset


def test_on_a_course_each_member_is_the_single_environment_touches_and_planner_alike(tmp_path):
    """The course runs per member (appearances, the patient's planner, the obstacle term):
    random actions over 5 s episodes that each draw their own course (its first obstacle at
    2 m, not the scenario's 4 m: obstacles met within the 5 s)."""
    scenario = (
        Path(__file__).parent.parent
        / "scenarios"
        / "obstacle-avoidance-hemiparetic-moderate-hip-exo.toml"
    ).read_text(encoding="utf-8")
    assert "start_m = 4.0" in scenario
    path = tmp_path / "near.toml"
    path.write_text(scenario.replace("start_m = 4.0", "start_m = 2.0"), encoding="utf-8")
    config = _short("obstacle-course-assist", episode_s=5.0).model_copy(
        update={"scenario": str(path)}
    )
    n = 2
    venv = GaitVectorEnv(config, n)
    singles = [GaitEnv(config) for _ in range(n)]
    vobs, _ = venv.reset(seed=3)
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(vobs[i], env.reset(seed=3 + i)[0])
    courses = [env.episode.scenario.course.elements for env in singles]
    assert courses[0] != courses[1]  # a course drawn per episode
    touched, live = [0] * n, [True] * n
    for a in _actions(1000, n, 1) * 0.3:
        vobs, vrew, vterm, vtrunc, info = venv.step(a)
        for i, env in enumerate(singles):
            if not live[i]:
                continue
            obs, reward, term, trunc, single_info = env.step(a[i])
            np.testing.assert_array_equal(vobs[i], obs)
            assert vrew[i] == pytest.approx(reward, rel=1e-6, abs=1e-9)
            assert info["course_touches"][i] == single_info.get("course_touches", [])
            touched[i] += len(single_info.get("course_touches", []))
            live[i] = not (term or trunc)
    assert sum(touched) > 0  # the obstacle term was exercised
    assert all(len(env.episode.sim.course.planner.decisions) > 0 for env in singles)


def test_pushes_and_belt_speed_changes_act_on_each_member_as_on_the_single_environment(tmp_path):
    scenario = (
        Path(__file__).parent.parent
        / "scenarios"
        / "obstacle-avoidance-hemiparetic-moderate-hip-exo.toml"
    ).read_text(encoding="utf-8")
    scenario = scenario.split("[course.generate]")[0] + (
        '[[course.elements]]\nkind = "push"\nat_s = 0.5\nforce_n = 60.0\nduration_s = 0.2\n\n'
        '[[course.elements]]\nkind = "belt_speed"\nat_s = 0.8\nspeed_m_s = 1.0\nramp_s = 0.3\n\n'
        '[[course.elements]]\nkind = "obstacle"\nat_m = 1.5\nlength_m = 0.35\n'
        "response_time_s = 1.0\n\n"
        # recording at 1 kHz: the single simulation's loop visits every 2 physics steps,
        # where the belt's force changes
        "[run]\nduration_s = 30.0\nrecord_rate_hz = 1000.0\n"
    )
    path = tmp_path / "perturbed.toml"
    path.write_text(scenario, encoding="utf-8")
    config = _short("obstacle-course-assist", episode_s=2.0).model_copy(
        update={
            "scenario": str(path),
            "randomization": load_env_config("hip-exo-assist").randomization,
        }
    )
    venv = GaitVectorEnv(config, 2)
    singles = [GaitEnv(config) for _ in range(2)]
    vobs, _ = venv.reset(seed=5)
    for i, env in enumerate(singles):
        env.reset(seed=5 + i)
    for a in np.zeros((90, 2, 1), np.float32):  # 1.8 s at 50 Hz, within the episode
        vobs, vrew, *_ = venv.step(a)
        for i, env in enumerate(singles):
            obs, reward, *_ = env.step(a[i])
            np.testing.assert_array_equal(vobs[i], obs)
            assert vrew[i] == pytest.approx(reward, rel=1e-6, abs=1e-9)
    belt = singles[0].episode.sim.index.belt_dof
    assert singles[0].episode.sim.data.qvel[belt] == pytest.approx(-1.0, abs=0.1)  # new speed


def test_same_step_autoreset_hands_over_the_final_observation():
    config, n = _short(), 2
    venv = GaitVectorEnv(config, n, autoreset_mode="SameStep")
    venv.reset(seed=3)
    seen_final = 0
    for a in _actions(60, n, 1):
        obs, _, term, trunc, info = venv.step(a)
        done = term | trunc
        if done.any():
            assert info["_final_obs"].tolist() == done.tolist()
            for i in np.flatnonzero(done):
                assert info["final_obs"][i].shape == venv.single_observation_space.shape
                assert info["final_info"][i]["termination_reason"] in ("time_limit", "fall")
                # the member started again within the step: a fresh history (repeated rows)
                k = config.observation.history
                rows = obs[i].reshape(k, -1)
                assert np.array_equal(rows[0], rows[-1])
                seen_final += 1
    assert seen_final >= n


def test_the_same_seed_gives_the_same_vector_rollout():
    def rollout() -> np.ndarray:
        venv = GaitVectorEnv(_short(), 2)
        out = [venv.reset(seed=5)[0]]
        for a in _actions(70, 2, 1):
            obs, reward, *_ = venv.step(a)
            out.append(np.c_[obs, reward])
        return np.concatenate(out, axis=None)

    np.testing.assert_array_equal(rollout(), rollout())


def test_spaces_and_bad_arguments():
    venv = GaitVectorEnv("hip-exo-assist", 4)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (4, *venv.single_observation_space.shape)
    assert venv.action_space.shape == (4, 1) and venv.observation_space.contains(obs)
    assert len(set(info["seed"].tolist())) == 4  # each member its own run seed
    with pytest.raises(ValueError, match="num_envs"):
        GaitVectorEnv("hip-exo-assist", 0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        GaitVectorEnv("hip-exo-assist", 2, autoreset_mode="Disabled")
    with pytest.raises(ValueError, match="seeds for 4"):
        venv.reset(seed=[1, 2])


def test_stable_baselines3_trains_on_the_vector_env():
    import stable_baselines3 as sb3

    from gaitsim.env.sb3 import SB3VecEnv

    venv = SB3VecEnv(_short(), 2)
    venv.seed(0)
    model = sb3.PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, device="cpu")
    model.learn(128)
    assert model.num_timesteps >= 128
    obs = venv.reset()
    for _ in range(60):
        obs, _, dones, infos = venv.step(model.predict(obs)[0])
        for done, info in zip(dones, infos, strict=True):
            if done:
                assert info["terminal_observation"].shape == obs.shape[1:]
                assert isinstance(info["TimeLimit.truncated"], bool)


def test_privileged_signals_reach_critics_through_info_not_the_observation():
    names = ("pelvis_velocity_m_s", "muscle_activation", "interaction_torque_nm")
    config = _short()
    config = config.model_copy(
        update={"observation": config.observation.model_copy(update={"privileged": names})}
    )
    env, venv = GaitEnv(config), GaitVectorEnv(config, 2)
    obs, info = env.reset(seed=2)
    assert obs.shape == GaitEnv(_short()).observation_space.shape  # the actor's view is the same
    assert info["privileged"].shape == (1 + 18 + 1,)
    _, vinfo = venv.reset(seed=2)
    np.testing.assert_array_equal(vinfo["privileged"][0], info["privileged"])
    a = np.full((2, 1), 0.5, np.float32)
    _, _, _, _, info = env.step(a[0])
    _, _, _, _, vinfo = venv.step(a)
    np.testing.assert_array_equal(vinfo["privileged"][0], info["privileged"])
    assert info["privileged"][0] > 0.2  # walking forward (m/s)


def test_step_asymmetry_is_the_step_length_difference_over_leg_length():
    from gaitsim.env.core import StrideDetector

    d = StrideDetector(2)

    def stride(side: str, step: float) -> dict:
        return {"side": side, "stride_time_s": 1.0, "step_length_m": step}

    # member 0: left 0.2 then right 0.5 (0.3 / 0.9 m); member 1: only one side has stepped
    first = d.asymmetry([[stride("left", 0.2)], [stride("left", 0.4)]], np.array([0.9, 0.9]))
    np.testing.assert_array_equal(first, [0.0, 0.0])
    second = d.asymmetry([[stride("right", 0.5)], []], np.array([0.9, 0.9]))
    np.testing.assert_allclose(second, [0.3 / 0.9, 0.0])
    d.restart(0)
    np.testing.assert_array_equal(d.asymmetry([[stride("left", 0.2)], []], 0.9), [0.0, 0.0])


def test_a_controller_that_raises_ends_the_episodes_with_a_reason_not_the_caller():
    venv = GaitVectorEnv(_short(), 2)
    venv.reset(seed=0)

    def broken(*args):
        raise FloatingPointError("patient controller bug")

    venv._patient_step = broken
    _, rewards, terminated, _, info = venv.step(np.zeros((2, 1), np.float32))
    assert terminated.all() and list(info["termination_reason"]) == ["controller_error"] * 2
    assert np.all(rewards == -venv.config.reward.fall)


def test_non_finite_actions_end_the_episode_as_a_controller_error_in_both_forms():
    """A NaN or inf action (a broken policy) ends that member's episode as a controller
    error with a finite reward (the fall penalty), as in a single env, never the caller;
    the other members walk on."""
    config, n = _short(), 3
    venv = GaitVectorEnv(config, n)
    singles = [GaitEnv(config) for _ in range(n)]
    venv.reset(seed=5)
    for i, env in enumerate(singles):
        env.reset(seed=5 + i)
    actions = _actions(12, n, 1)
    actions[4, 0] = np.nan
    actions[7, 1] = np.inf
    ended = {}
    for k, a in enumerate(actions):
        _, vrew, vterm, _, info = venv.step(a)
        assert np.all(np.isfinite(vrew))
        for i, env in enumerate(singles):
            if i in ended:
                continue
            _, reward, term, _, single_info = env.step(a[i])
            assert vrew[i] == pytest.approx(reward, rel=1e-6, abs=1e-9) and vterm[i] == term
            if term:
                assert info["termination_reason"][i] == single_info["termination_reason"]
                ended[i] = (k, single_info["termination_reason"], reward)
    assert {i: (k, why) for i, (k, why, _) in ended.items()} == {
        0: (4, "controller_error"),
        1: (7, "controller_error"),
    }
    # the fall penalty, less the smoothness term of a return to zero action
    assert all(-config.reward.fall - 0.1 < r <= -config.reward.fall for *_, r in ended.values())

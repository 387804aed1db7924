"""Gymnasium environments: the catalogue, conformity, seeding, rendering, robustness."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gaitsim
from gaitsim.env import ENV_IDS, EnvConfigError, load_env_config
from gaitsim.env.single import GaitEnv


def test_every_catalogue_file_is_registered_on_import():
    assert gaitsim.__version__
    assert set(ENV_IDS) >= {
        "gaitsim/HipExoAssist-v1",
        "gaitsim/AnkleExoAssist-v0",
        "gaitsim/GaitTrainerAssist-v0",
        "gaitsim/ObstacleCourseAssist-v0",
    }
    assert all(i in gym.registry for i in ENV_IDS)


@pytest.mark.filterwarnings("ignore:.*Box observation space.*infinity")
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasiums_checker_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_same_seed_gives_the_same_episode(env_id):
    def rollout() -> list[np.ndarray]:
        env = gym.make(env_id)
        obs, _ = env.reset(seed=7)
        actions = np.random.default_rng(0).uniform(-1, 1, (40, *env.action_space.shape))
        out = [obs]
        for a in actions:
            obs, reward, *_ = env.step(a.astype(np.float32))
            out.append(np.r_[obs, reward])
        return out

    first, second = rollout(), rollout()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_observations_actions_and_strides():
    env = GaitEnv("hip-exo-assist")
    obs, info = env.reset(seed=1)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    assert env.action_space.shape == (1,)  # one module: the paretic hip
    assert {"height_m", "mass_kg"} == set(info["randomized"])  # randomised per episode
    strides = []
    for _ in range(600):  # 3 s
        obs, reward, terminated, truncated, info = env.step(np.zeros(1, np.float32))
        strides += info["strides"]
        assert np.isfinite(reward)
        if terminated or truncated:
            break
    assert {s["side"] for s in strides} == {"left", "right"}
    assert all(0.3 < s["stride_time_s"] < 2.0 for s in strides)


def test_a_full_torque_on_the_trainer_ends_the_episode_with_a_reason():
    env = GaitEnv("gait-trainer-aan")
    env.reset(seed=0)
    reasons = []
    for k in range(4000):
        sign = 1.0 if (k // 100) % 2 else -1.0  # slam the drives from stop to stop
        *_, terminated, truncated, info = env.step(np.full(4, sign, np.float32))
        if terminated or truncated:
            reasons.append(info["termination_reason"])
            break
    assert reasons and reasons[0] in {
        "fall",
        "time_limit",
        "numerical_instability",
        "mujoco_warning",
    }


def test_rgb_array_rendering_returns_frames():
    env = GaitEnv("ankle-exo-assist", render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    try:
        frame = env.render()
    except Exception as exc:  # no OpenGL here: what the render tests skip on too
        pytest.skip(f"rendering unavailable: {exc}")
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 10
    env.close()


def test_bad_environment_files_name_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "gaitsim/Bad-v0"\nscenario = "exo-hip-moderate-left"\n'
        '[observation]\nsensors = ["x_ray"]\n',
        encoding="utf-8",
    )
    with pytest.raises(EnvConfigError, match="observation.sensors.0"):
        load_env_config(str(bad))
    bad.write_text('id = "Bad"\nscenario = "default"\n[observation]\nsensors = ["foot_load_n"]\n')
    with pytest.raises(EnvConfigError, match="id"):
        load_env_config(str(bad))


@pytest.mark.slow
def test_random_actions_over_every_id_raise_nothing():
    """10^5 random steps over the catalogue: episodes end with a reason, never an exception."""
    steps_per_id = 100_000 // len(ENV_IDS) + 1
    for env_id in ENV_IDS:
        env = gym.make(env_id)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(steps_per_id):
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, reward, terminated, truncated, info = env.step(action)
            assert np.all(np.isfinite(obs)) and np.isfinite(reward)
            if terminated or truncated:
                assert info["termination_reason"]
                env.reset()
        env.close()


def test_a_broken_catalogue_file_is_left_out_with_a_warning(monkeypatch, tmp_path):
    import gaitsim.env as env_module
    from gaitsim.env import config as env_config

    (tmp_path / "ok.toml").write_text(
        'id = "gaitsim/TestOk-v0"\nscenario = "exo-hip-moderate-left"\n'
        '[observation]\nsensors = ["foot_load_n"]\n',
        encoding="utf-8",
    )
    (tmp_path / "broken.toml").write_text('id = "gaitsim/TestBroken-v0"\n', encoding="utf-8")
    monkeypatch.setattr(env_config, "catalogue_dir", lambda name: tmp_path)
    with pytest.warns(UserWarning, match="broken.toml not registered"):
        ids = env_module.register_catalogue()
    assert ids == ["gaitsim/TestOk-v0"]
    assert "gaitsim/TestBroken-v0" not in gym.registry


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_stable_baselines3s_checker_passes(env_id):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id)
    sb3_checker.check_env(env.unwrapped, warn=True)
    env.close()


def test_observing_emg_needs_a_device_that_measures_it():
    config = load_env_config("hip-exo-assist")
    config = config.model_copy(
        update={"observation": config.observation.model_copy(update={"sensors": ("emg",)})}
    )
    with pytest.raises(ValueError, match="device.sensing.emg"):
        GaitEnv(config)


def test_device_and_sensor_randomisation_draws_per_episode():
    config = load_env_config("hip-exo-assist")
    r = config.randomization.model_copy(
        update={"cuff_stiffness_scale": (0.5, 2.0), "sensor_latency_s": (0.0, 0.02)}
    )
    env = GaitEnv(config.model_copy(update={"randomization": r}))
    _, info = env.reset(seed=1)
    drawn = info["randomized"]
    assert 0.5 <= drawn["cuff_stiffness_scale"] <= 2.0 and 0.0 <= drawn["sensor_latency_s"] <= 0.02
    device = env.unwrapped._episode.scenario.device
    assert device.sensing.latency_s == drawn["sensor_latency_s"]
    assert device.modules[0].cuff_stiffness_nm_rad == pytest.approx(
        300.0 * drawn["cuff_stiffness_scale"]
    )
    _, again = env.reset(seed=1)
    assert again["randomized"] == drawn  # seeded
    _, other = env.reset()
    assert other["randomized"] != drawn


def test_randomisation_ranges_are_checked(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'id = "gaitsim/Bad-v0"\nscenario = "exo-hip-moderate-left"\n[observation]\n'
        'sensors = ["joint_angle_rad"]\n[randomization]\nsensor_latency_s = [0.0, 0.5]\n',
        encoding="utf-8",
    )
    with pytest.raises(EnvConfigError, match="randomization.sensor_latency_s"):
        load_env_config(str(path))


def test_a_drawn_course_needs_a_projected_generator():
    config = load_env_config("hip-exo-assist")
    r = config.randomization.model_copy(update={"course": True})
    with pytest.raises(
        ValueError, match=r"randomization.course = true needs .*\[course.generate\]"
    ):
        GaitEnv(config.model_copy(update={"randomization": r}))


def test_the_course_is_drawn_per_episode_and_replayed_from_the_scenario():
    env = GaitEnv("obstacle-course-assist")
    _, info = env.reset(seed=2)
    first = env.unwrapped.episode.scenario.course.elements
    assert "course_seed" in info["randomized"]
    env.reset(seed=2)
    assert env.unwrapped.episode.scenario.course.elements == first  # seeded
    env.reset(seed=3)
    assert env.unwrapped.episode.scenario.course.elements != first
    env.reset(options={"run_seed": 1001})  # held-out replay: the scenario's own course
    own = env.unwrapped.episode.scenario
    assert own.course.elements == env.unwrapped._setup.scenario.course.elements


def test_an_episodes_trace_can_be_asked_for_again_after_a_full_episode():
    """trace() records the final state once: asked again after an episode that ran its whole
    length, it returns the same Trace (each call used to append the final state once more: a
    repeated last sample, and an IndexError once the recorder was full)."""
    config = load_env_config("obstacle-course-assist").model_copy(update={"episode_s": 1.0})
    env = GaitEnv(config, record=True)
    env.reset(seed=8)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(np.zeros(env.action_space.shape, np.float32))
        done = term or trunc
    assert trunc and not term
    first = env.trace()
    assert env.trace() is first and first.time_s[-1] == pytest.approx(1.0)


def test_the_obstacle_term_counts_what_the_course_scoring_calls_hit(tmp_path):
    """Online touches (the reward's) and the trace's scoring agree element for element, for
    a patient that avoids some obstacles and hits others."""
    from gaitsim.metrics.course import score_course

    text = (
        Path(__file__).parent.parent
        / "scenarios"
        / "obstacle-avoidance-hemiparetic-moderate-hip-exo.toml"
    ).read_text(encoding="utf-8")
    healthy = text.replace("hemiparetic-moderate-left", "healthy").replace(
        "belt_speed_m_s = 0.8", "belt_speed_m_s = 1.2"
    )
    # the healthy walker's own (default) planner: the file's gains are the moderate patient's
    healthy = re.sub(r"\[controller\.planner\].*?\n\n", "", healthy, flags=re.S)
    path = tmp_path / "healthy-obstacles.toml"
    path.write_text(healthy, encoding="utf-8")
    config = load_env_config("obstacle-course-assist").model_copy(
        update={"scenario": str(path), "episode_s": 20.0}
    )
    env = GaitEnv(config, record=True)
    env.reset(seed=0)
    touched, done = [], False
    while not done:
        _, _, term, trunc, info = env.step(np.zeros(1, np.float32))
        touched += info.get("course_touches", [])
        done = term or trunc
    outcomes = [e["outcome"] for e in score_course(env.trace())["elements"]]
    assert "avoided" in outcomes and "hit" in outcomes
    assert touched == [i for i, o in enumerate(outcomes) if o == "hit"]

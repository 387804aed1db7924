"""Video replay of a Trace (gaitsim.render): pose fidelity, frame timing, MP4 output, errors."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from gaitsim import constants as C
from gaitsim import spec
from gaitsim.render import RenderUnavailable, frame_times, render_compare, render_trace, video
from gaitsim.sim.simulation import simulate
from gaitsim.sim.trace import Trace


@pytest.fixture(scope="module")
def trace() -> Trace:
    return simulate(spec.from_dict({"run": {"duration_s": 0.5}}))


def test_frame_times_step_and_end_hold(trace: Trace) -> None:
    t0, t1 = float(trace.time_s[0]), float(trace.time_s[-1])
    times = frame_times(trace, fps=10)
    n_hold = round(video.END_HOLD_S * 10)
    played = times[:-n_hold]
    assert played[0] == t0
    np.testing.assert_allclose(np.diff(played), 0.1)
    assert played[-1] <= t1 < played[-1] + 0.1
    np.testing.assert_array_equal(times[-n_hold:], t1)
    # half speed: twice the played frames
    assert len(frame_times(trace, fps=10, slow_motion=2.0)) - n_hold == 2 * len(played) - 1
    with pytest.raises(ValueError):
        frame_times(trace, fps=0)


def test_nearest_sample_is_picked_not_blended() -> None:
    recorded = np.array([0.0, 0.1, 0.2, 0.3])
    wanted = np.array([0.0, 0.04, 0.06, 0.26, 0.3, 0.5])
    np.testing.assert_array_equal(video._nearest_samples(recorded, wanted), [0, 0, 1, 3, 3, 3])


def test_pose_from_channels_reproduces_recorded_feet(trace: Trace) -> None:
    """The model rebuilt from meta["scenario"] and posed from the angle/pelvis channels puts the
    heel and toe spheres where the run recorded them. (Tolerance 2 mm: the recorder stores body
    positions from the kinematics of the step before the joint angles it stores, a lag of one
    physics step.)"""
    model, _ = video._model_for(trace, 160, 96)
    poser = video._Poser(model, trace)
    data = mujoco.MjData(model)
    for i in np.linspace(0, len(trace) - 1, 12).astype(int):
        poser.pose(data, int(i))
        for side in C.SIDES:
            for element, channel in (("heel", C.heel_channel), ("toe", C.toe_channel)):
                g = model.geom(C.model_name(element, side)).id
                lowest = data.geom_xpos[g] - [0.0, 0.0, model.geom_size[g, 0]]
                np.testing.assert_allclose(lowest, trace[channel(side)][i], atol=2e-3)


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # imageio reader starts ffmpeg
def test_render_trace_writes_a_readable_mp4(trace: Trace, tmp_path) -> None:
    iio = pytest.importorskip("imageio.v2")
    out = tmp_path / "run.mp4"
    try:
        path = render_trace(trace, out, fps=10, width=160, height=96)
    except RenderUnavailable as exc:
        pytest.skip(f"rendering unavailable here: {exc}")
    assert path == out
    assert out.is_file() and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.mp4"]  # no temp file left
    with iio.get_reader(out) as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == len(frame_times(trace, fps=10))
    assert all(f.shape == (96, 160, 3) for f in frames)
    for f in frames:
        assert len(np.unique(f.reshape(-1, 3), axis=0)) > 10, "a frame is (almost) one colour"


def test_no_gl_is_a_clear_error_and_leaves_no_file(trace: Trace, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MUJOCO_GL", "disable")
    with pytest.raises(RenderUnavailable, match="MUJOCO_GL=egl") as info:
        render_trace(trace, tmp_path / "run.mp4", fps=10, width=160, height=96)
    assert "libegl-mesa0" in str(info.value) and "libgl1-mesa-dri" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_bad_size_is_rejected(trace: Trace, tmp_path) -> None:
    with pytest.raises(ValueError, match="even"):
        render_trace(trace, tmp_path / "run.mp4", width=161, height=96)


def test_a_trace_renders_after_its_controller_file_is_gone(tmp_path) -> None:
    """Rendering rebuilds the body and course only: a trace made with a parameter file that
    exists only where it was made (another machine, a deleted tuning run) still renders."""
    from gaitsim.neural import controller as rc

    params = rc.save_parameter_file(tmp_path / "mine.json", *rc.nominal_parameters())
    sc = {"controller": {"kind": "reflex", "parameters": str(params)}, "run": {"duration_s": 0.2}}
    made = simulate(spec.from_dict(sc))
    params.unlink()
    try:
        out = render_trace(made, tmp_path / "v.mp4", fps=10, width=96, height=64)
    except RenderUnavailable as exc:
        pytest.skip(f"rendering unavailable here: {exc}")
    assert out.stat().st_size > 0


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # imageio reader starts ffmpeg
def test_a_treadmill_run_with_a_device_renders_the_body_and_the_device(tmp_path) -> None:
    """The belt is kilometres long: the view must still be scaled to the body (a view scaled
    to the model's extent clipped the whole body away)."""
    iio = pytest.importorskip("imageio.v2")
    sc = spec.from_dict(
        {
            "course": {"kind": "treadmill"},
            "device": {"kind": "gait-trainer"},
            "run": {"duration_s": 0.2, "record_rate_hz": 20.0},
        }
    )
    out = tmp_path / "trainer.mp4"
    try:
        render_trace(simulate(sc), out, fps=10, width=160, height=96)
    except RenderUnavailable as exc:
        pytest.skip(f"rendering unavailable here: {exc}")
    with iio.get_reader(out) as reader:
        frame = np.asarray(next(iter(reader)), dtype=float)
    # the device's blue: blue channel well above red somewhere in the picture
    assert np.any(frame[..., 2] - frame[..., 0] > 30), "the device is not in view"
    assert (frame.sum(axis=2) > 60).mean() > 0.3, "most of the frame is black"


@pytest.fixture(scope="module")
def course_trace() -> Trace:
    """10 s of the healthy obstacle session: projected obstacles come past on the belt."""
    from gaitsim.catalogue import resolve_scenario

    d = spec.to_dict(spec.load(resolve_scenario("obstacle-avoidance-healthy")))
    d["run"]["duration_s"] = 10.0
    return simulate(spec.from_dict(d))


def _frames(path) -> tuple[list[np.ndarray], dict]:
    iio = pytest.importorskip("imageio.v2")
    with iio.get_reader(path) as reader:
        return [np.asarray(f) for f in reader], reader.get_meta_data()


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_a_10_s_course_run_renders_with_its_obstacles_in_two_workers(
    course_trace: Trace, tmp_path, monkeypatch
) -> None:
    """Frames, duration and size read back; the two-process render (segments joined) has
    the frames of the one-process render; the obstacles' marks are in the picture."""
    monkeypatch.setattr(video, "MIN_FRAMES_PER_WORKER", 20)
    try:
        one = render_trace(
            course_trace, tmp_path / "one.mp4", fps=10, width=320, height=240, workers=1
        )
        two = render_trace(
            course_trace, tmp_path / "two.mp4", fps=10, width=320, height=240, workers=2
        )
    except RenderUnavailable as exc:
        pytest.skip(f"rendering unavailable here: {exc}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.mp4", "two.mp4"]
    expected = len(frame_times(course_trace, fps=10))
    frames_one, meta = _frames(one)
    frames_two, _ = _frames(two)
    assert len(frames_one) == len(frames_two) == expected
    assert meta["size"] == (320, 240) and abs(meta["duration"] - expected / 10) < 0.15
    difference = [
        np.abs(a.astype(int) - b.astype(int)).mean()
        for a, b in zip(frames_one, frames_two, strict=True)
    ]
    assert max(difference) < 3.0, "the joined segments are not the same frames"
    # an obstacle: its orange before it is passed, then green (avoided) or red (hit)
    orange = [
        ((f[..., 0] > 200) & (f[..., 1] > 100) & (f[..., 1] < 180) & (f[..., 2] < 80)).sum()
        for f in frames_one
    ]
    green = [((f[..., 1] > 150) & (f[..., 0] < 100) & (f[..., 2] < 100)).sum() for f in frames_one]
    assert max(orange) > 50 and max(green) > 50


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_side_by_side_comparison_is_labelled_synchronised_and_charted(
    trace: Trace, course_trace: Trace, tmp_path
) -> None:
    out = tmp_path / "compare.mp4"
    try:
        render_compare(
            [course_trace, trace], ["course", "short"], out, fps=10, width=320, height=200
        )
    except RenderUnavailable as exc:
        pytest.skip(f"rendering unavailable here: {exc}")
    frames, meta = _frames(out)
    assert meta["size"] == (320, 200)
    assert len(frames) == len(frame_times(course_trace, fps=10))  # the longer run's time base
    chart = frames[len(frames) // 2][150:]  # the strip charts: white with a red cursor
    assert (chart.sum(axis=2) > 700).mean() > 0.5
    assert ((chart[..., 0] > 180) & (chart[..., 1] < 90)).sum() > 10
    with pytest.raises(ValueError, match="not a 1-D channel.*allowed:.*knee_left_angle_rad"):
        render_compare([trace, trace], ["a", "b"], out, signal="com_pos_m")
    with pytest.raises(ValueError, match="two or more"):
        render_compare([trace], ["a"], out)


def test_cli_render_without_gl_exits_non_zero_with_one_clear_message(tmp_path) -> None:
    import subprocess
    import sys

    trace_file = tmp_path / "t.npz"
    simulate(spec.from_dict({"run": {"duration_s": 0.2}})).save(trace_file)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gaitsim.cli",
            "render",
            str(trace_file),
            "--out",
            str(tmp_path / "v.mp4"),
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "MUJOCO_GL": "disable"},
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: rendering is disabled (MUJOCO_GL=disable); " + video._INSTALL_HINT
    ]
    assert not (tmp_path / "v.mp4").exists()

"""Replay recorded Traces as MP4 videos (headless, offscreen OpenGL): one run, or several side
by side.

The model is rebuilt from the scenario stored in the trace and posed, frame by frame, from the
recorded channels (pelvis position and pitch, hip/knee/ankle angles, the device's joints);
nothing is simulated again and nothing is interpolated: each video frame shows the recorded
sample nearest in time. The muscle paths are posed with the joints, so tendons are drawn where
the muscles run. Over the body (:mod:`gaitsim.render.overlay`): the heads-up values (time,
speed, each leg's gait phase, device torques and assist level), the feedback cue of the
moment, and the projected course elements as marks on the ground (obstacles orange, targets
cyan until decided, then green when avoided or hit as asked, red when not); on a treadmill the
floor's distance marks move with the belt.

:func:`render_compare` puts several traces (the same patient and seed under different
controllers, or different patients) side by side on one time base, each panel labelled, with a
strip chart of one signal under each and a cursor at the frame's time.

Rendering is split into contiguous runs of frames rendered by worker processes (one per core
by default, for videos long enough to repay a worker's start) into MP4 segments, joined without
re-encoding by ffmpeg's concat demuxer.

Headless Linux renders through EGL (``MUJOCO_GL=egl``, the default this module sets for itself);
on a machine without a GPU, Mesa's EGL renders on the CPU (Debian packages ``libegl1``,
``libegl-mesa0``, ``libgl1-mesa-dri``). Visuals are kept cheap for that case: no shadows,
reflections, skybox, haze or multisampling.

The GL backend is chosen when rendering runs, not when ``mujoco`` is imported
(``mujoco.Renderer`` fixes its backend at ``import mujoco`` time, which is too early to default
``MUJOCO_GL`` here), so this module drives MuJoCo's offscreen renderer itself.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim._io import atomic_path
from gaitsim.metrics.course import course_of
from gaitsim.model.devices import DEVICE_PREFIX, module_name
from gaitsim.model.terrain import ground_height, ground_profile
from gaitsim.render.overlay import CUE_SHOW_S, Mark, course_marks, hud_series
from gaitsim.sim.record import device_channel
from gaitsim.sim.trace import Trace

#: Camera distance per metre of body height (3.5 m for a 1.75 m person).
CAMERA_DISTANCE_PER_HEIGHT = 2.0
#: Camera look-at height per metre of body height (about the hips).
CAMERA_LOOKAT_HEIGHT_PER_HEIGHT = 0.5
#: Spacing of the distance marks drawn on the floor (m), so forward progress is visible.
FLOOR_MARK_SPACING_M = 0.5
#: Opacity of the body segments (muscles and contact spheres inside them stay visible).
BODY_ALPHA = 0.45
#: How long (s of video) the last recorded state is held, with why the run ended, at the end.
END_HOLD_S = 0.5
#: Fewest frames per worker process: below it a worker's start (about 2 s) is not repaid.
MIN_FRAMES_PER_WORKER = 300
#: Height of the strip chart under each panel of a comparison, as a fraction of the video's.
CHART_FRACTION = 0.25
#: Width (m) of the projected marks across the walking direction (a treadmill belt's width).
MARK_WIDTH_M = 0.5

# Below this frame height the heads-up text is one short line (values only, no labels).
_COMPACT_HUD_PX = 200
#: Frames lower than this use MuJoCo's half-size font.
_SMALL_FONT_PX = 300
_DISABLED = ("disable", "disabled", "off", "false", "0")
_INSTALL_HINT = (
    "set MUJOCO_GL=egl and install EGL with Mesa (Debian: "
    "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri), or a GPU driver's EGL"
)
_LEFT_LEG_RGBA = np.array([0.55, 0.62, 0.80, 1.0], dtype=np.float32)
_FLOOR_MARK_RGBA = np.array([0.35, 0.35, 0.35, 1.0], dtype=np.float32)
_MARK_RGBA = {
    "obstacle": np.array([1.0, 0.55, 0.0, 0.95], dtype=np.float32),
    "target": np.array([0.0, 0.8, 1.0, 0.95], dtype=np.float32),
    "walking_area": np.array([0.3, 0.5, 1.0, 0.35], dtype=np.float32),
    "pedestrian": np.array([0.6, 0.3, 0.8, 0.8], dtype=np.float32),
}
_GOOD_RGBA = np.array([0.15, 0.8, 0.2, 0.95], dtype=np.float32)
_BAD_RGBA = np.array([0.9, 0.1, 0.1, 0.95], dtype=np.float32)
_CURSOR_RGB = np.array([220, 30, 30], dtype=np.uint8)


class RenderUnavailable(RuntimeError):
    """Rendering cannot run here: no OpenGL context or no video writer. The message says why."""


def _hold_frames(fps: float) -> int:
    """Frames that hold the final state at the end of a video."""
    return max(1, round(END_HOLD_S * fps))


def frame_times(trace: Trace, fps: float = 30, slow_motion: float = 1.0) -> np.ndarray:
    """Simulation time (s) each video frame shows, one entry per frame of :func:`render_trace`.

    Every ``1 / (fps * slow_motion)`` s from the first recorded sample to the last
    (``slow_motion=2`` plays at half speed), then the last recorded time repeated for
    ``END_HOLD_S`` s of video (the final state held while the end-of-run banner shows).
    """
    if len(trace) == 0:
        raise ValueError("trace has no samples to render")
    return _times(float(trace.time_s[0]), float(trace.time_s[-1]), fps, slow_motion)


def _times(t0: float, t1: float, fps: float, slow_motion: float) -> np.ndarray:
    if fps <= 0 or slow_motion <= 0 or not (math.isfinite(fps) and math.isfinite(slow_motion)):
        raise ValueError(f"fps ({fps}) and slow_motion ({slow_motion}) must be positive and finite")
    step = 1.0 / (fps * slow_motion)
    n = int(math.floor((t1 - t0) / step + 1e-9)) + 1
    return np.concatenate([t0 + step * np.arange(n), np.full(_hold_frames(fps), t1)])


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs to render frames ``[lo, hi)`` (picklable)."""

    traces: tuple[Trace, ...]
    labels: tuple[str | None, ...]
    times: np.ndarray
    hold_from: int
    fps: float
    slow_motion: float
    panel_width: int
    panel_height: int
    chart_height: int
    signal: str | None
    chart_range: tuple[float, float] | None = None


def render_trace(
    trace: Trace,
    out_path: str | os.PathLike[str],
    fps: float = 30,
    width: int = 640,
    height: int = 360,
    slow_motion: float = 1.0,
    workers: int | None = None,
) -> Path:
    """Render ``trace`` as an H.264 MP4 at ``out_path`` and return the path.

    A side view (looking along +y, forward to the right of the picture) follows the pelvis.
    The heads-up text shows the simulation time (and the playback speed when slowed), speed,
    gait phases, device torques and assist level, and the feedback cue of the moment; the
    video ends holding the last recorded state for ``END_HOLD_S`` s with why the run ended
    (``meta["termination"]``). Frame ``k`` shows ``frame_times(trace, fps, slow_motion)[k]``.
    ``workers``: processes rendering in parallel (default: one per core, fewer for short
    videos). The file is written atomically: a failed render leaves no half file behind.

    Raises :class:`RenderUnavailable` when no OpenGL context (or no video writer) is available,
    ``ValueError`` for a bad size or rate, ``KeyError`` if the trace lacks a pose channel.
    """
    _check_size(width, height)
    times = frame_times(trace, fps, slow_motion)
    job = _Job(
        (trace,),
        (None,),
        times,
        len(times) - _hold_frames(fps),
        fps,
        slow_motion,
        width,
        height,
        0,
        None,
    )
    return _render(job, Path(out_path), workers)


def render_compare(
    traces: Sequence[Trace],
    labels: Sequence[str],
    out_path: str | os.PathLike[str],
    signal: str | None = None,
    fps: float = 30,
    width: int = 1280,
    height: int = 480,
    slow_motion: float = 1.0,
    workers: int | None = None,
) -> Path:
    """Render ``traces`` side by side, synchronised on simulation time, as one MP4.

    Each panel is ``width / len(traces)`` wide and shows one trace as :func:`render_trace`
    does, labelled; under it a strip chart (``CHART_FRACTION`` of the height) of ``signal``
    (a 1-D trace channel; joint angles in degrees; default the paretic knee angle, else the
    left knee's) over the whole run with a cursor at the frame's time. A run that ended early
    holds its last state with its end banner while the others go on.
    """
    if len(traces) < 2 or len(traces) != len(labels):
        raise ValueError("a comparison needs two or more traces, each with a label")
    if any(len(t) == 0 for t in traces):
        raise ValueError("a trace has no samples to render")
    panel_width = width // len(traces)
    panel_width -= panel_width % 2
    chart_height = int(height * CHART_FRACTION) // 2 * 2
    _check_size(panel_width, height - chart_height)
    signal = signal or _default_signal(traces[0])
    for trace, label in zip(traces, labels, strict=True):
        if signal not in trace or np.asarray(trace[signal]).ndim != 1:
            one_d = sorted(k for k in trace.channels if np.asarray(trace[k]).ndim == 1)
            raise ValueError(
                f"signal {signal!r}: not a 1-D channel of {label}'s trace; allowed: "
                + ", ".join(one_d)
            )
    t0 = min(float(t.time_s[0]) for t in traces)
    t1 = max(float(t.time_s[-1]) for t in traces)
    times = _times(t0, t1, fps, slow_motion)
    # one y-range for every panel's chart, so the panels compare at a glance
    values = np.concatenate([_chart_values(t, signal) for t in traces])
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.05 * max(high - low, 1e-6)
    job = _Job(
        tuple(traces),
        tuple(labels),
        times,
        len(times) - _hold_frames(fps),
        fps,
        slow_motion,
        panel_width,
        height - chart_height,
        chart_height,
        signal,
        (low - pad, high + pad),
    )
    return _render(job, Path(out_path), workers)


def _default_signal(trace: Trace) -> str:
    side = trace.meta.get("scenario", {}).get("patient", {}).get("paretic_side", "none")
    return C.angle_channel("knee", side if side in C.SIDES else "left")


def _check_size(width: int, height: int) -> None:
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and at least 16 (got {width}x{height})")


def _worker_count(workers: int | None, n_frames: int) -> int:
    if workers is not None and workers < 1:
        raise ValueError(f"workers = {workers}: must be at least 1")
    most = workers if workers is not None else (os.cpu_count() or 1)
    return max(1, min(most, n_frames // MIN_FRAMES_PER_WORKER))


def _render(job: _Job, out_path: Path, workers: int | None) -> Path:
    _imageio()
    n = len(job.times)
    count = _worker_count(workers, n)
    with atomic_path(out_path, suffix=".mp4") as tmp:
        if count == 1:
            _write_frames(job, 0, n, tmp)
        else:
            bounds = np.linspace(0, n, count + 1).round().astype(int)
            with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".segments-") as folder:
                parts = [Path(folder) / f"{k:03d}.mp4" for k in range(count)]
                _run_workers(job, bounds, parts)
                _concatenate(parts, tmp)
    return out_path


def _run_workers(job: _Job, bounds: np.ndarray, parts: Sequence[Path]) -> None:
    """Render frames ``bounds[k]:bounds[k+1]`` into ``parts[k]``, one worker process each.

    Workers are fresh interpreters (``python -c``, not multiprocessing: that re-imports the
    caller's main module, which fails from a notebook or stdin, and forking a process that
    holds a GL context or JAX is unsafe) given the job as a pickle in the segments' private
    folder. Each runs Mesa's software renderer (llvmpipe) on one thread, so the workers share
    the cores: measured on 2 cores, one process renders 50 frames/s on one thread and 55 on
    two; two processes on one thread each, 116 together.
    """
    env = {**os.environ, "LP_NUM_THREADS": os.environ.get("LP_NUM_THREADS", "1")}
    env.setdefault("MUJOCO_GL", _gl_backend() or "egl")
    procs = []
    for lo, hi, part in zip(bounds[:-1], bounds[1:], parts, strict=True):
        job_file = part.with_suffix(".job")
        with job_file.open("wb") as f:
            pickle.dump((job, int(lo), int(hi), part), f)
        code = f"from gaitsim.render.video import _worker; _worker({str(job_file)!r})"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True
            )
        )
    failures = []
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            failures.append((proc.returncode, err.strip().splitlines()[-1:] or [""]))
    if failures:
        status, last = failures[0]
        if status == _UNAVAILABLE_EXIT:
            raise RenderUnavailable(last[0])
        raise RuntimeError(f"a render worker failed (exit {status}): {last[0]}")


#: A worker's exit status when rendering is unavailable (its last stderr line says why).
_UNAVAILABLE_EXIT = 3


def _worker(job_file: str) -> None:
    """A render worker's body: the job pickled by :func:`_run_workers` (our own file)."""
    with open(job_file, "rb") as f:
        job, lo, hi, part = pickle.load(f)  # noqa: S301  (written by this module, private)
    try:
        _write_frames(job, lo, hi, part)
    except RenderUnavailable as exc:
        print(exc, file=sys.stderr)
        sys.exit(_UNAVAILABLE_EXIT)


def _concatenate(parts: Sequence[Path], out: Path) -> None:
    """Join MP4 segments of one encoding into ``out`` without re-encoding."""
    import imageio_ffmpeg

    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts), encoding="utf-8")
    try:
        done = subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-y",
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-c",
                "copy",
                "-f",
                "mp4",
                str(out),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        listing.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RenderUnavailable(f"ffmpeg could not join the video's segments: {done.stderr}")


def _write_frames(job: _Job, lo: int, hi: int, path: Path) -> None:
    """Render frames ``[lo, hi)`` of ``job`` into the MP4 file ``path``."""
    iio = _imageio()
    panels = [
        _Panel(trace, label, job) for trace, label in zip(job.traces, job.labels, strict=True)
    ]
    width = job.panel_width * len(panels)
    height = job.panel_height + job.chart_height
    context = _gl_context(job.panel_width, job.panel_height)
    try:
        for panel in panels:
            panel.open()
        with warnings.catch_warnings():
            # imageio starts ffmpeg with subprocess (fork then exec in C, no Python runs in
            # the child); JAX, when imported, warns about any fork. Not a hazard here.
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
            writer = iio.get_writer(
                path,
                format="FFMPEG",
                fps=job.fps,
                codec="libx264",
                quality=7,
                pixelformat="yuv420p",
                macro_block_size=1,
            )
            try:
                frame = np.empty((height, width, 3), dtype=np.uint8)
                for k in range(lo, hi):
                    t = float(job.times[k])
                    for p, panel in enumerate(panels):
                        x0 = p * job.panel_width
                        frame[:, x0 : x0 + job.panel_width] = panel.frame(t, k >= job.hold_from)
                    writer.append_data(frame)
            finally:
                writer.close()
    finally:
        context.make_current()
        for panel in panels:
            panel.close()
        context.free()


class _Panel:
    """One trace's part of a video: its model, pose, heads-up values, marks and chart."""

    def __init__(self, trace: Trace, label: str | None, job: _Job) -> None:
        self.label, self.job = label, job
        self.width, self.height = job.panel_width, job.panel_height
        self.model, self.height_m = _model_for(trace, self.width, self.height)
        self.poser = _Poser(self.model, trace)
        self.data = mujoco.MjData(self.model)
        self.time_s = np.asarray(trace.time_s, float)
        self.hud = hud_series(trace)
        self.marks = course_marks(trace)
        self.profile = ground_profile(course_of(trace).elements)
        self.belt = np.asarray(trace["belt_pos_m"], float) if "belt_pos_m" in trace else None
        cues = [e for e in trace.events if e.kind == "cue"]
        self.cue_times = np.array([e.time_s for e in cues], float)
        self.cue_texts = [str(e.detail["text"]) for e in cues]
        self.termination = dict(trace.meta.get("termination", {}))
        self.chart = (
            _Chart(trace, job.signal, self.width, job.chart_height, job.times, job.chart_range)
            if job.chart_height and job.signal
            else None
        )
        self.drawer: _Drawer | None = None

    def open(self) -> None:
        self.drawer = _Drawer(self.model, self.width, self.height)

    def close(self) -> None:
        if self.drawer is not None:
            self.drawer.free()
            self.drawer = None

    def frame(self, t: float, holding: bool) -> np.ndarray:
        assert self.drawer is not None
        i = int(_nearest_samples(self.time_s, np.array([t]))[0])
        ended = holding or t > self.time_s[-1]
        self.poser.pose(self.data, i)
        belt_x = 0.0 if self.belt is None else float(self.belt[i])
        lines = [] if self.label is None else [("", self.label)]
        lines.append(("time", f"{min(t, self.time_s[-1]):.2f} s"))
        if self.job.slow_motion != 1.0:
            lines.append(("playback", f"{1.0 / self.job.slow_motion:.2g}x"))
        lines += self.hud.lines(i)
        if ended and self.termination:
            lines.append(
                ("end", _termination_text(self.termination, self.height < _COMPACT_HUD_PX))
            )
        k = int(np.searchsorted(self.cue_times, t, side="right")) - 1
        cue = self.cue_texts[k] if k >= 0 and t - self.cue_times[k] < CUE_SHOW_S else None
        sample_t = float(self.time_s[i])

        def extras(scene: mujoco.MjvScene) -> None:
            _add_marks(scene, self.marks, sample_t, belt_x, self.profile)

        image = self.drawer.draw(self.data, self.height_m, lines, cue, belt_x, extras)
        if self.chart is None:
            return image
        return np.concatenate([image, self.chart.at(min(t, self.time_s[-1]))], axis=0)


class _Chart:
    """A strip chart of one channel over the video's time span, drawn once; ``at(t)`` adds
    the cursor."""

    def __init__(
        self,
        trace: Trace,
        signal: str,
        width: int,
        height: int,
        times: np.ndarray,
        y_range: tuple[float, float] | None = None,
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        values = _chart_values(trace, signal)
        unit = " (deg)" if signal.endswith("_rad") else ""
        fig = Figure(figsize=(width / 100, height / 100), dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0.1, 0.18, 0.87, 0.72))
        self.t0, self.t1 = float(times[0]), float(times[-1])
        ax.plot(trace.time_s, values, lw=0.8, color="#1f77b4")
        ax.set_xlim(self.t0, max(self.t1, self.t0 + 1e-3))
        if y_range is not None:
            ax.set_ylim(*y_range)
        ax.set_title(signal.removesuffix("_rad") + unit, fontsize=7, pad=2)
        ax.tick_params(labelsize=6, pad=1)
        ax.grid(alpha=0.3)
        canvas.draw()
        self.image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        box = ax.get_window_extent()
        self.x0, self.x1 = float(box.x0), float(box.x1)
        # Matplotlib's y is from the bottom
        self.rows = slice(int(height - box.y1), int(height - box.y0))

    def at(self, t: float) -> np.ndarray:
        image = self.image.copy()
        u = (t - self.t0) / max(self.t1 - self.t0, 1e-9)
        col = int(round(self.x0 + u * (self.x1 - self.x0)))
        col = min(max(col, 0), image.shape[1] - 2)
        image[self.rows, col : col + 2] = _CURSOR_RGB
        return image


def _chart_values(trace: Trace, signal: str) -> np.ndarray:
    """A chart's values: the channel, joint angles in degrees."""
    values = np.asarray(trace[signal], float)
    return np.degrees(values) if signal.endswith("_rad") else values


def _add_marks(
    scene: mujoco.MjvScene, marks: Sequence[Mark], t: float, belt_x: float, profile: Any
) -> None:
    """The projected elements shown at ``t`` as thin boxes on the ground (a pedestrian as an
    upright capsule), coloured by outcome once decided."""
    for mark in marks:
        if not (mark.shown_s <= t < mark.hidden_s) or scene.ngeom >= scene.maxgeom:
            continue
        start, end = mark.span_at(t)
        x = 0.5 * (start + end) + belt_x
        rgba = _MARK_RGBA[mark.kind]
        if mark.outcome is not None and t >= mark.decided_s:
            rgba = _GOOD_RGBA if mark.good else _BAD_RGBA
        z = float(ground_height(profile, x))
        geom = scene.geoms[scene.ngeom]
        if mark.kind == "pedestrian":
            size = np.array([0.2, 0.6, 0.0])
            pos = np.array([x, mark.lateral_at(t), z + 0.85])
            mujoco.mjv_initGeom(
                geom, int(mujoco.mjtGeom.mjGEOM_CAPSULE), size, pos, np.eye(3).ravel(), rgba
            )
        else:
            size = np.array([0.5 * (end - start), 0.5 * MARK_WIDTH_M, 0.002])
            pos = np.array([x, 0.0, z + 0.003])
            mujoco.mjv_initGeom(
                geom, int(mujoco.mjtGeom.mjGEOM_BOX), size, pos, np.eye(3).ravel(), rgba
            )
        scene.ngeom += 1


def _nearest_samples(recorded: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of the recorded time nearest each wanted time (recorded times ascending)."""
    hi = np.clip(np.searchsorted(recorded, wanted), 1, max(1, len(recorded) - 1))
    lo = hi - 1
    if len(recorded) == 1:
        return np.zeros(len(wanted), dtype=int)
    return np.where(wanted - recorded[lo] <= recorded[hi] - wanted, lo, hi)


def _termination_text(termination: dict[str, Any], short: bool = False) -> str:
    reason = str(termination.get("reason", "?"))
    if short:
        return reason
    detail = str(termination.get("detail", "") or "")
    at = termination.get("time_s")
    when = f" at {float(at):.2f} s" if at is not None else ""
    return f"{reason}{when}" + (f" ({detail})" if detail else "")


def _imageio() -> Any:
    try:
        import imageio.v2 as iio
        import imageio_ffmpeg  # noqa: F401  (the MP4 writer's ffmpeg)
    except ImportError as exc:
        raise RenderUnavailable(
            f"video writing needs imageio and imageio-ffmpeg ({exc}); "
            "pip install imageio imageio-ffmpeg"
        ) from exc
    return iio


def _model_for(trace: Trace, width: int, height: int) -> tuple[mujoco.MjModel, float]:
    """The trace's model, rebuilt from its stored scenario, with cheap visuals for rendering."""
    from gaitsim.model import build_model
    from gaitsim.spec import Course, Device, Patient

    stored = trace.meta.get("scenario")
    if not isinstance(stored, dict) or not {"patient", "course", "run"} <= stored.keys():
        raise ValueError('trace meta has no "scenario" to rebuild the model from')
    # only the body and the course are drawn: the rest of the scenario (e.g. a controller
    # file that only existed where the trace was made) is not needed, nor checked, here
    patient, course = (
        Patient.model_validate(stored["patient"]),
        Course.model_validate(stored["course"]),
    )
    # the device is drawn, its controller is not needed
    device = Device.model_validate({**stored.get("device", {}), "controller": "transparent"})
    physics_step = float(trace.meta.get("physics_step_s", stored["run"]["physics_step_s"]))
    built = build_model(patient, course, physics_step, device)
    model = built.model
    vis = model.vis
    vis.global_.offwidth = max(int(vis.global_.offwidth), width)
    vis.global_.offheight = max(int(vis.global_.offheight), height)
    vis.quality.shadowsize = 0
    vis.quality.offsamples = 0
    # The course's light is a spot above the start; a walker would leave it. Light evenly.
    model.light_type[:] = int(mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    model.light_castshadow[:] = 0
    # Body segments see-through so the muscle paths and contact spheres inside them show; the
    # left leg tinted so the legs can be told apart from the side (the camera sees the right).
    for g in np.flatnonzero(model.geom_group == 1):
        body = model.body(int(model.geom_bodyid[g])).name
        if body.startswith(DEVICE_PREFIX):  # the device stays solid
            continue
        if body.startswith(C.model_name("", "left")):
            model.geom_rgba[g] = _LEFT_LEG_RGBA
        model.geom_rgba[g, 3] = BODY_ALPHA
    # Tendons at least about a pixel wide at the default view.
    pixel_m = (
        2.0
        * CAMERA_DISTANCE_PER_HEIGHT
        * built.height_m
        * math.tan(math.radians(model.vis.global_.fovy / 2))
        / height
    )
    model.tendon_width[:] = np.maximum(model.tendon_width, 0.6 * pixel_m)
    return model, float(built.height_m)


class _Poser:
    """Sets qpos from the recorded sample ``i`` of a trace (the nearest one, never blended)."""

    def __init__(self, model: mujoco.MjModel, trace: Trace) -> None:
        self._model = model
        adr = {
            j: int(model.jnt_qposadr[model.joint(j).id])
            for j in ("pelvis_x", "pelvis_z", "pelvis_pitch")
        }
        rest = mujoco.MjData(model)
        mujoco.mj_kinematics(model, rest)
        pelvis_rest = rest.xpos[model.body("pelvis").id].copy()
        pos = np.asarray(trace["pelvis_pos_m"])
        self._columns: list[tuple[int, np.ndarray]] = [
            (adr["pelvis_x"], pos[:, 0] - pelvis_rest[0]),
            (adr["pelvis_z"], pos[:, 2] - pelvis_rest[2]),
            (adr["pelvis_pitch"], np.asarray(trace["pelvis_pitch_rad"])),
        ]
        for side in C.SIDES:
            for joint in C.JOINTS:
                qadr = int(model.jnt_qposadr[model.joint(C.joint_name(joint, side)).id])
                self._columns.append((qadr, np.asarray(trace[C.angle_channel(joint, side)])))
                module = module_name(joint, side)
                if module in {model.joint(j).name for j in range(model.njnt)}:
                    qadr = int(model.jnt_qposadr[model.joint(module).id])
                    angle = trace[device_channel("angle_rad", joint, side)]
                    self._columns.append((qadr, np.asarray(angle)))

    def pose(self, data: mujoco.MjData, i: int) -> None:
        data.qpos[:] = self._model.qpos0
        for adr, column in self._columns:
            data.qpos[adr] = column[i]
        data.qvel[:] = 0.0
        mujoco.mj_forward(self._model, data)


def _gl_backend() -> str:
    if sys.platform.startswith("linux"):
        os.environ.setdefault("MUJOCO_GL", "egl")
    return os.environ.get("MUJOCO_GL", "").strip().lower()


def _gl_context(width: int, height: int) -> Any:
    """An OpenGL context for the backend ``MUJOCO_GL`` names, made current."""
    backend = _gl_backend()
    if backend in _DISABLED:
        raise RenderUnavailable(f"rendering is disabled (MUJOCO_GL={backend}); {_INSTALL_HINT}")
    module = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa", "cgl": "mujoco.cgl"}.get(
        backend, "mujoco.glfw"
    )
    try:
        context = importlib.import_module(module).GLContext(width, height)
        context.make_current()
    except Exception as exc:
        raise RenderUnavailable(
            f"cannot create an OpenGL context (MUJOCO_GL={backend or '<unset>'}): "
            f"{type(exc).__name__}: {exc}; {_INSTALL_HINT}"
        ) from exc
    return context


class _Drawer:
    """MuJoCo's offscreen renderer for one model in the current GL context:
    ``draw(data, height_m, hud, cue, belt_x, extras) -> (H, W, 3) uint8``."""

    def __init__(self, model: mujoco.MjModel, width: int, height: int) -> None:
        self.model, self.width, self.height = model, width, height
        small = height < _SMALL_FONT_PX
        scale = mujoco.mjtFontScale.mjFONTSCALE_50 if small else mujoco.mjtFontScale.mjFONTSCALE_100
        try:
            self.mjr = mujoco.MjrContext(model, int(scale))
        except Exception as exc:
            raise RenderUnavailable(
                f"OpenGL context opened but MuJoCo cannot render in it: {exc}; {_INSTALL_HINT}"
            ) from exc
        self.rect = mujoco.MjrRect(0, 0, width, height)
        self.scene = mujoco.MjvScene(model, maxgeom=model.ngeom + 10 * model.ntendon + 300)
        for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX", "mjRND_HAZE", "mjRND_FOG"):
            self.scene.flags[int(getattr(mujoco.mjtRndFlag, flag))] = 0
        self.option = mujoco.MjvOption()
        self.option.flags[int(mujoco.mjtVisFlag.mjVIS_TENDON)] = 1
        self.option.geomgroup[:3] = 1  # body (1) and contact spheres (2) shown, wrap cylinders not
        self.option.tendongroup[:] = 1
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.azimuth = 90.0  # looking along +y at the right side; forward (+x) is right
        self.camera.elevation = -8.0
        self.pelvis = model.body("pelvis").id
        self.rgb = np.empty((height, width, 3), dtype=np.uint8)

    def draw(
        self,
        data: mujoco.MjData,
        height_m: float,
        hud: list[tuple[str, str]],
        cue: str | None,
        belt_x: float,
        extras: Any,
    ) -> np.ndarray:
        model, scene, camera, mjr = self.model, self.scene, self.camera, self.mjr
        mujoco.mjr_setBuffer(int(mujoco.mjtFramebuffer.mjFB_OFFSCREEN), mjr)
        camera.distance = CAMERA_DISTANCE_PER_HEIGHT * height_m
        camera.lookat[:] = [
            data.xpos[self.pelvis, 0],
            0.0,
            CAMERA_LOOKAT_HEIGHT_PER_HEIGHT * height_m,
        ]
        mujoco.mjv_updateScene(
            model, data, self.option, None, camera, int(mujoco.mjtCatBit.mjCAT_ALL), scene
        )
        _add_floor_marks(scene, float(camera.lookat[0]), 2.0 * camera.distance, belt_x)
        extras(scene)
        mujoco.mjr_render(self.rect, scene, mjr)
        if self.height < _COMPACT_HUD_PX:
            labels, values = "  ".join(v for _, v in hud[:3]), ""
        else:
            labels, values = "\n".join(k for k, _ in hud), "\n".join(v for _, v in hud)
        font = int(mujoco.mjtFont.mjFONT_NORMAL)
        mujoco.mjr_overlay(
            font, int(mujoco.mjtGridPos.mjGRID_TOPLEFT), self.rect, labels, values, mjr
        )
        if cue:
            mujoco.mjr_overlay(
                font, int(mujoco.mjtGridPos.mjGRID_BOTTOMLEFT), self.rect, cue, "", mjr
            )
        mujoco.mjr_readPixels(self.rgb, None, self.rect, mjr)
        return np.flipud(self.rgb)

    def free(self) -> None:
        self.mjr.free()


def _add_floor_marks(
    scene: mujoco.MjvScene, centre_x: float, span_m: float, belt_x: float = 0.0
) -> None:
    """Thin stripes across the floor every FLOOR_MARK_SPACING_M around ``centre_x``, fixed to
    the ground (``belt_x``: a treadmill belt's displacement, so they move with it)."""
    first = math.floor((centre_x - belt_x - span_m) / FLOOR_MARK_SPACING_M)
    last = math.ceil((centre_x - belt_x + span_m) / FLOOR_MARK_SPACING_M)
    size = np.array([0.01, 0.4, 0.0005])
    mat = np.eye(3).ravel()
    for k in range(first, last + 1):
        if scene.ngeom >= scene.maxgeom:
            return
        pos = np.array([k * FLOOR_MARK_SPACING_M + belt_x, 0.0, 0.0006])
        geom = scene.geoms[scene.ngeom]
        mujoco.mjv_initGeom(geom, int(mujoco.mjtGeom.mjGEOM_BOX), size, pos, mat, _FLOOR_MARK_RGBA)
        scene.ngeom += 1

"""Replay a recorded Trace as an MP4 video (headless, offscreen OpenGL).

The model is rebuilt from the scenario stored in the trace and posed, frame by frame, from the
recorded channels (pelvis position and pitch, hip/knee/ankle angles); nothing is simulated again
and nothing is interpolated: each video frame shows the recorded sample nearest in time. The
muscle paths are posed with the joints, so tendons are drawn where the muscles run.

Headless Linux renders through EGL (``MUJOCO_GL=egl``, the default this module sets for itself);
on a machine without a GPU, Mesa's EGL renders on the CPU (Debian packages ``libegl1``,
``libegl-mesa0``, ``libgl1-mesa-dri``). Visuals are kept cheap for that case: no shadows,
reflections, skybox, haze or multisampling.

The GL backend is chosen when :func:`render_trace` runs, not when ``mujoco`` is imported
(``mujoco.Renderer`` fixes its backend at ``import mujoco`` time, which is too early to default
``MUJOCO_GL`` here), so this module drives MuJoCo's offscreen renderer itself.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim._io import atomic_path
from gaitsim.model.devices import DEVICE_PREFIX, module_name
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
    if fps <= 0 or slow_motion <= 0 or not (math.isfinite(fps) and math.isfinite(slow_motion)):
        raise ValueError(f"fps ({fps}) and slow_motion ({slow_motion}) must be positive and finite")
    if len(trace) == 0:
        raise ValueError("trace has no samples to render")
    t0, t1 = float(trace.time_s[0]), float(trace.time_s[-1])
    step = 1.0 / (fps * slow_motion)
    n = int(math.floor((t1 - t0) / step + 1e-9)) + 1
    return np.concatenate([t0 + step * np.arange(n), np.full(_hold_frames(fps), t1)])


def render_trace(
    trace: Trace,
    out_path: str | os.PathLike[str],
    fps: float = 30,
    width: int = 640,
    height: int = 360,
    slow_motion: float = 1.0,
) -> Path:
    """Render ``trace`` as an H.264 MP4 at ``out_path`` and return the path.

    A side view (looking along +y, forward to the right of the picture) follows the pelvis.
    The heads-up text shows the simulation time (and the playback speed when slowed); the
    video ends holding the last recorded state for ``END_HOLD_S`` s with why the run ended
    (``meta["termination"]``). Frame ``k`` shows ``frame_times(trace, fps, slow_motion)[k]``.
    The file is written atomically: a failed render leaves no half file behind.

    Raises :class:`RenderUnavailable` when no OpenGL context (or no video writer) is available,
    ``ValueError`` for a bad size or rate, ``KeyError`` if the trace lacks a pose channel.
    """
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and at least 16 (got {width}x{height})")
    times = frame_times(trace, fps, slow_motion)
    samples = _nearest_samples(np.asarray(trace.time_s), times)
    writer_mod = _imageio()

    model, height_m = _model_for(trace, width, height)
    poses = _Poser(model, trace)
    data = mujoco.MjData(model)
    termination = dict(trace.meta.get("termination", {}))
    n_played = len(times) - _hold_frames(fps)

    out_path = Path(out_path)
    with (
        atomic_path(out_path, suffix=".mp4") as tmp,
        _offscreen(model, width, height) as draw,
        warnings.catch_warnings(),
    ):
        # imageio starts ffmpeg with subprocess (fork then exec in C, no Python runs in the
        # child); JAX, when imported, warns about any fork. Not a hazard here.
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
        writer = writer_mod.get_writer(
            tmp,
            format="FFMPEG",
            fps=fps,
            codec="libx264",
            quality=7,
            pixelformat="yuv420p",
            macro_block_size=1,
        )
        try:
            for k, (t, i) in enumerate(zip(times, samples, strict=True)):
                poses.pose(data, int(i))
                lines = [("time", f"{t:.2f} s")]
                if slow_motion != 1.0:
                    lines.append(("speed", f"{1.0 / slow_motion:.2g}x"))
                if k >= n_played and termination:
                    short = height < _COMPACT_HUD_PX
                    lines.append(("end", _termination_text(termination, short)))
                writer.append_data(draw(data, height_m, lines))
        finally:
            writer.close()
    return out_path


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


@contextmanager
def _offscreen(model: mujoco.MjModel, width: int, height: int) -> Iterator[Any]:
    """Yield ``draw(data, height_m, hud_lines) -> (H, W, 3) uint8`` on an offscreen buffer."""
    context = _gl_context(width, height)
    mjr = None
    try:
        small = height < _SMALL_FONT_PX
        scale = mujoco.mjtFontScale.mjFONTSCALE_50 if small else mujoco.mjtFontScale.mjFONTSCALE_100
        try:
            mjr = mujoco.MjrContext(model, int(scale))
        except Exception as exc:
            raise RenderUnavailable(
                f"OpenGL context opened but MuJoCo cannot render in it: {exc}; {_INSTALL_HINT}"
            ) from exc
        mujoco.mjr_setBuffer(int(mujoco.mjtFramebuffer.mjFB_OFFSCREEN), mjr)
        rect = mujoco.MjrRect(0, 0, width, height)
        scene = mujoco.MjvScene(model, maxgeom=model.ngeom + 10 * model.ntendon + 200)
        for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX", "mjRND_HAZE", "mjRND_FOG"):
            scene.flags[int(getattr(mujoco.mjtRndFlag, flag))] = 0
        option = mujoco.MjvOption()
        option.flags[int(mujoco.mjtVisFlag.mjVIS_TENDON)] = 1
        option.geomgroup[:3] = 1  # body (1) and contact spheres (2) shown, wrap cylinders not
        option.tendongroup[:] = 1
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.azimuth = 90.0  # looking along +y at the right side; forward (+x) is to the right
        camera.elevation = -8.0
        pelvis = model.body("pelvis").id
        rgb = np.empty((height, width, 3), dtype=np.uint8)

        def draw(data: mujoco.MjData, height_m: float, hud: list[tuple[str, str]]) -> np.ndarray:
            camera.distance = CAMERA_DISTANCE_PER_HEIGHT * height_m
            camera.lookat[:] = [
                data.xpos[pelvis, 0],
                0.0,
                CAMERA_LOOKAT_HEIGHT_PER_HEIGHT * height_m,
            ]
            mujoco.mjv_updateScene(
                model, data, option, None, camera, int(mujoco.mjtCatBit.mjCAT_ALL), scene
            )
            _add_floor_marks(scene, float(camera.lookat[0]), 2.0 * camera.distance)
            mujoco.mjr_render(rect, scene, mjr)
            if height < _COMPACT_HUD_PX:
                labels, values = "  ".join(v for _, v in hud), ""
            else:
                labels, values = "\n".join(k for k, _ in hud), "\n".join(v for _, v in hud)
            mujoco.mjr_overlay(
                int(mujoco.mjtFont.mjFONT_NORMAL),
                int(mujoco.mjtGridPos.mjGRID_TOPLEFT),
                rect,
                labels,
                values,
                mjr,
            )
            mujoco.mjr_readPixels(rgb, None, rect, mjr)
            return np.flipud(rgb).copy()

        yield draw
    finally:
        context.make_current()
        if mjr is not None:
            mjr.free()
        context.free()


def _add_floor_marks(scene: mujoco.MjvScene, centre_x: float, span_m: float) -> None:
    """Thin stripes across the floor every FLOOR_MARK_SPACING_M around ``centre_x``."""
    first = math.floor((centre_x - span_m) / FLOOR_MARK_SPACING_M)
    last = math.ceil((centre_x + span_m) / FLOOR_MARK_SPACING_M)
    size = np.array([0.01, 0.4, 0.0005])
    mat = np.eye(3).ravel()
    for k in range(first, last + 1):
        if scene.ngeom >= scene.maxgeom:
            return
        pos = np.array([k * FLOOR_MARK_SPACING_M, 0.0, 0.0006])
        geom = scene.geoms[scene.ngeom]
        mujoco.mjv_initGeom(geom, int(mujoco.mjtGeom.mjGEOM_BOX), size, pos, mat, _FLOOR_MARK_RGBA)
        scene.ngeom += 1

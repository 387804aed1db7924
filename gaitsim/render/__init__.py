"""Rendering recorded runs: MP4 replay of a Trace (``render_trace``).

Importing this package does not open an OpenGL context or read ``MUJOCO_GL``; that happens
when :func:`render_trace` runs.
"""

from gaitsim.render.video import RenderUnavailable, frame_times, render_trace

__all__ = ["RenderUnavailable", "frame_times", "render_trace"]

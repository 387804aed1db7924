"""Rendering recorded runs: MP4 replay of a Trace (``render_trace``), several side by side
(``render_compare``), and the HTML review report (:mod:`gaitsim.render.report`).

Importing this package does not open an OpenGL context or read ``MUJOCO_GL``; that happens
when a video is rendered.
"""

from gaitsim.render.video import RenderUnavailable, frame_times, render_compare, render_trace

__all__ = ["RenderUnavailable", "frame_times", "render_compare", "render_trace"]

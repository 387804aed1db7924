"""Rendering speed: a recorded run rendered to MP4 at 640x480, 30 fps, against real time.

Simulates the healthy obstacle session for ``duration_s`` (default 20 s: the body, the
treadmill, projected obstacle marks, cues and the heads-up text), then renders the trace in
one process and with the default worker processes (one per core), and a two-panel comparison
at 1280x480, printing frames/s and the ratio of simulated seconds to rendering seconds (> 1:
faster than real time), all measured in one run. Usage:
python benchmarks/render_speed.py [duration_s]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from gaitsim import catalogue, spec
from gaitsim.render import frame_times, render_compare, render_trace
from gaitsim.sim.simulation import simulate


def main(duration_s: float = 20.0) -> None:
    d = spec.to_dict(spec.load(catalogue.resolve_scenario("obstacle-avoidance-healthy")))
    d["run"]["duration_s"] = duration_s
    trace = simulate(spec.from_dict(d))
    simulated = float(trace.time_s[-1])
    frames = len(frame_times(trace, 30))
    print(f"{simulated:.1f} s simulated, {frames} frames at 30 fps; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        for label, workers in (("1 process", 1), ("default workers", None)):
            started = time.perf_counter()
            render_trace(trace, Path(folder) / "v.mp4", 30, 640, 480, workers=workers)
            took = time.perf_counter() - started
            print(
                f"640x480, {label:>15}: {frames / took:6.1f} frames/s, "
                f"{simulated / took:5.2f}x real time"
            )
        started = time.perf_counter()
        render_compare([trace, trace], ["a", "b"], Path(folder) / "c.mp4", width=1280, height=480)
        took = time.perf_counter() - started
        print(
            f"1280x480 comparison, 2 panels: {frames / took:6.1f} frames/s, "
            f"{simulated / took:5.2f}x real time"
        )


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]))

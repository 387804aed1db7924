"""The hardware loop against the twin server at 1 kHz: missed deadlines and controller latency.

Starts ``gaitsim twin serve`` on loopback for the hip-exoskeleton scenario with the device at
``rate_hz`` (default 1000), runs the scenario's controller through the loop in real time for
``duration_s`` (default 60) and prints the rate held, missed deadlines (and their share), the
controller step's latency p50/p99/max and the ticks' start jitter, measured in one run.

Then, for the same duration under the same real-time settings, a loop that does no work but
wait for its deadlines (the same sleep-then-spin, the same missed rule): its misses are the
machine's floor, stalls of the virtual CPU itself (on the 2-vCPU VM here, 3-4 ms every few
seconds, each costing ~3 deadlines), and the ratio tells how much the loop adds. The
hypervisor's steal time during the loop's run (``/proc/stat``) is printed beside. Usage:
python benchmarks/hw_loop.py [duration_s] [rate_hz]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from gaitsim import catalogue, spec
from gaitsim.hardware.interface import device_setup
from gaitsim.hardware.loop import run_loop, wait_until
from gaitsim.hardware.realtime import realtime_thread, summary
from gaitsim.hardware.twin import TwinAdapter

KEY = "benchmark-key-0123456789"


def steal_ms() -> list[float]:
    """Per CPU, the time the hypervisor ran something else while the CPU had work (steal,
    ``/proc/stat``), in ms since boot; empty where not readable."""
    try:
        with open("/proc/stat") as f:
            rows = [line.split() for line in f if line.startswith("cpu") and line[3] != " "]
    except OSError:
        return []
    tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
    return [int(r[8]) * tick_ms for r in rows]


def idle_loop_misses(ticks: int, rate_hz: float) -> int:
    """Missed deadlines of a loop that only waits for them, as ``run_loop`` counts them."""
    period, missed = 1.0 / rate_hz, 0
    with realtime_thread():
        start = time.perf_counter()
        for k in range(ticks):
            deadline = start + k * period
            wait_until(deadline)
            missed += time.perf_counter() - deadline > period
    return missed


def main(duration_s: float = 60.0, rate_hz: float = 1000.0) -> None:
    d = spec.to_dict(spec.load(catalogue.resolve_scenario("exo-hip-moderate-left")))
    d["device"]["rate_hz"] = rate_hz
    d["run"]["duration_s"] = duration_s + 5.0
    scenario = spec.from_dict(d)
    port = 47000 + os.getpid() % 1000
    env = {**os.environ, "GAITSIM_TWIN_KEY": KEY}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gaitsim.cli",
            "twin",
            "serve",
            "exo-hip-moderate-left",
            "--port",
            str(port),
            "--rate",
            str(rate_hz),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        print(server.stderr.readline().strip())
        setup = device_setup(scenario)
        adapter = TwinAdapter(
            setup.layout, setup.limits, setup.rate_hz, KEY.encode(), ("127.0.0.1", port)
        )
        before = steal_ms()
        result = run_loop(
            adapter, lambda _: setup.controller(), round(duration_s * rate_hz), realtime=True
        )
        stolen = [b - a for a, b in zip(before, steal_ms(), strict=True)]
    finally:
        server.terminate()
        server.wait()
    lat, jit = result.latency_us, result.jitter_us
    print(
        f"{result.ticks} ticks in {result.active_s:.1f} s: {result.ticks / result.active_s:.0f} "
        f"Hz (target {rate_hz:g}); missed {result.missed} "
        f"({100 * result.missed / max(result.ticks, 1):.3f} %); "
        f"controller latency p50 {lat['p50']:.0f} us, p99 {lat['p99']:.0f} us, max "
        f"{lat['max']:.0f} us; start jitter p99 {jit['p99']:.0f} us; ended {result.reason} "
        f"{result.detail}"
    )
    print(summary(result.realtime))
    if stolen:
        print(
            f"hypervisor steal during the run: {sum(stolen):.0f} ms ("
            + ", ".join(f"cpu{i} {v:.0f}" for i, v in enumerate(stolen))
            + ")"
        )
    floor = idle_loop_misses(result.ticks, rate_hz)
    print(
        f"machine floor: a loop doing no work missed {floor} of {result.ticks} deadlines "
        f"({100 * floor / max(result.ticks, 1):.3f} %); loop / floor = "
        f"{result.missed / max(floor, 1):.2f}"
    )


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:3]))

"""Replays of a logged session (``gaitsim hw run --log``), two ways.

- :func:`replay`: the logged measurements, in order, through a controller offline; its
  commands compared with the logged ones (a controller change checked against a session).
- :func:`drive`: the logged commands (as written after the safety layer), one per tick, into
  a robot (the twin) through the loop and its safety layer, and the robot's measurements
  compared with the logged ones tick by tick of simulated (or robot) time: how a twin
  started from the session's scenario and seed answers what the robot was commanded. A
  session recorded on the twin and driven into a twin of the same scenario and seed gives
  back its measurements exactly (tested); a session recorded on a robot shows where the
  twin's patient and device differ from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gaitsim.control.loop import LoopController
from gaitsim.hardware.interface import HardwareInterface, Layout
from gaitsim.hardware.log import LoopLog, read_log
from gaitsim.hardware.loop import LoopResult, run_loop
from gaitsim.sim.sensing import layout_slices


def _packed(message: dict[str, Any], layout: Layout) -> np.ndarray:
    """A logged measurement packed in ``layout`` (KeyError: a measurement it lacks)."""
    return np.concatenate([np.asarray(message[name], np.float32) for name, _ in layout])


def replay(path: str | Path, loop: Any, layout: Layout) -> dict[str, Any]:
    """Feed a log's measurements, in order, through a loop controller (``loop``: a
    ``LoopController`` with measurements in ``layout``) and compare its commands with the
    logged ones (before the safety layer): ticks, the largest absolute difference (N m) and
    the first tick that differs by more than 1e-6."""
    log = read_log(path)
    raw = {m["tick"]: m["raw_nm"] for _, m in log["/command"]}
    state = loop.state0
    worst, first, n = 0.0, None, 0
    for _, m in log["/measurements"]:
        state, command = loop.step(state, _packed(m, layout))
        if m["tick"] not in raw:
            break
        diff = float(np.max(np.abs(np.asarray(command, float) - np.asarray(raw[m["tick"]]))))
        if diff > 1e-6 and first is None:
            first = m["tick"]
        worst, n = max(worst, diff), n + 1
    return {"ticks": n, "max_difference_nm": worst, "first_difference_tick": first}


def playback(commands: np.ndarray, rate_hz: float) -> LoopController:
    """A loop controller that commands ``commands[k]`` at its k-th step (then the last one),
    whatever it measures; its state is the step count."""
    table = np.asarray(commands, float)

    def step(params: np.ndarray, state: np.ndarray, obs: np.ndarray) -> tuple[Any, Any]:
        k = int(state[0])
        return state + 1, params[min(k, len(params) - 1)]

    return LoopController("playback", rate_hz, np.zeros(1), table, step)


def drive(
    path: str | Path,
    adapter: HardwareInterface,
    realtime: bool = False,
    log: LoopLog | None = None,
) -> dict[str, Any]:
    """Drive ``adapter`` with the commands a log's session wrote, one per tick, through the
    loop (and its safety layer), and compare the measurements it gives with the logged ones
    at the same simulated time (ticks of ``adapter.rate_hz``; fresh measurements only).
    Returns the commands played, the loop's ending (reason, detail) and link counters, the
    ticks compared, the largest absolute difference per measurement and the first compared
    tick where any differs by more than 1e-6. ``log`` records the driven session. Raises
    ValueError for a log without commands, KeyError for one of another device's layout."""
    recorded = read_log(path)
    written = sorted((m["tick"], m["written_nm"]) for _, m in recorded["/command"])
    if not written:
        raise ValueError(f"{path}: the log holds no commands to play")
    commands = np.array([c for _, c in written], float)
    rate, layout = adapter.rate_hz, adapter.layout
    logged = {
        round(m["time_s"] * rate): _packed(m, layout)
        for _, m in recorded["/measurements"]
        if m.get("fresh", True)
    }
    result: LoopResult = run_loop(
        adapter,
        lambda _: playback(commands, rate),
        len(commands),
        realtime,
        record=True,
        log=log,
    )
    slices = layout_slices(layout)
    worst = dict.fromkeys(slices, 0.0)
    compared, first = 0, None
    for k, (packed, time_s, fresh) in enumerate(
        zip(result.measured, result.time_s, result.fresh, strict=True)
    ):
        past = logged.get(round(time_s * rate))
        if not fresh or past is None:
            continue
        compared += 1
        diff = np.abs(packed.astype(float) - past)
        for name, sl in slices.items():
            worst[name] = max(worst[name], float(diff[sl].max()))
        if first is None and diff.max() > 1e-6:
            first = k
    return {
        "commands": len(commands),
        "reason": result.reason,
        "detail": result.detail,
        "link": result.link,
        "compared": compared,
        "max_difference": worst,
        "first_difference_tick": first,
    }

"""Single simulation: step the model at a fixed physics step, call the patient's controller at
its own rate with delayed and noisy measurements, record a Trace, end on fall or blow-up.

A run never raises for what happens inside the simulation: falls, NaN/inf, MuJoCo warnings
and controller errors end it with ``meta["termination"]["reason"]``.
"""

from __future__ import annotations

import math
import platform
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

import gaitsim
from gaitsim.control.interface import Controller
from gaitsim.control.loop import compile_for_loop, steps_per_tick
from gaitsim.model import BuiltModel, build_scenario
from gaitsim.model.assemble import muscle_parameters
from gaitsim.neural import patient_controller
from gaitsim.neural.supraspinal import COURSE_INPUTS
from gaitsim.sim.course import CourseRunner, pushes_of
from gaitsim.sim.device import DeviceRunner
from gaitsim.sim.initial import (
    FallLimits,
    gait_state,
    perturbed,
    quiet_mujoco_warnings,
    settle_activation,
)
from gaitsim.sim.record import Recorder
from gaitsim.sim.sensing import PATIENT_LAYOUT, body_index, measure
from gaitsim.sim.trace import Event, Trace
from gaitsim.spec import Scenario, to_dict

#: Falls and blow-ups are checked at least this often (and at every control/record tick).
CHECK_RATE_HZ = 200.0

#: Start transient of a run begun mid-gait, left out of its gait metrics (s).
GAIT_START_TRANSIENT_S = 1.0

#: Reasons a run ends, as written to ``meta["termination"]["reason"]``.
REASONS = ("completed", "fall", "numerical_instability", "mujoco_warning", "controller_error")

# MuJoCo resets the state itself when these fire; they mean the integration blew up.
_INSTABILITY_WARNINGS = {
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_INERTIA,
}


@dataclass(frozen=True)
class Push:
    """An external force on the pelvis (world frame, N) from ``time_s`` for ``duration_s``:
    the push of a perturbation test. Its impulse is force x duration (N s)."""

    time_s: float
    duration_s: float
    force_n: tuple[float, float, float]


@dataclass(frozen=True)
class Termination:
    """Why and when a run ended; ``reason`` is one of :data:`REASONS`."""

    reason: str
    time_s: float
    detail: str = ""

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"reason = {self.reason!r}: allowed: {', '.join(REASONS)}")


def warning_reason(counts: np.ndarray) -> tuple[str, str]:
    """(reason, MuJoCo's warning name) of a run whose warning counters (one per mjtWarning)
    rose: the first warning raised decides."""
    w = mujoco.mjtWarning(int(np.flatnonzero(counts)[0]))
    return ("numerical_instability" if w in _INSTABILITY_WARNINGS else "mujoco_warning"), w.name


def _termination(data: mujoco.MjData, limits: FallLimits) -> Termination | None:
    """The reason the run must end now, or None."""
    counts = data.warning.number
    if counts.any():
        reason, name = warning_reason(counts)
        return Termination(reason, data.time, name)
    if not np.isfinite(data.qpos.sum() + data.qvel.sum()):
        return Termination("numerical_instability", data.time, "non-finite state")
    if limits.fallen(data.qpos):
        height, pitch = limits.height_m(data.qpos), data.qpos[limits.pitch_qpos]
        return Termination(
            "fall", data.time, f"pelvis height {height:.3f} m, trunk pitch {pitch:.3f} rad"
        )
    return None


def _state_check(data: mujoco.MjData, limits: FallLimits) -> Callable[[], Termination | None]:
    """:func:`_termination` for every tick: a cheap test on views taken once (each attribute
    access on MjData builds a new view), the full diagnosis only when it fires."""
    warnings, qpos, qvel = data.warning.number, data.qpos, data.qvel

    def check() -> Termination | None:
        if warnings.any() or not math.isfinite(qpos.sum() + qvel.sum()) or limits.fallen(qpos):
            return _termination(data, limits)
        return None

    return check


class _Sensor:
    """Delays (whole physics steps) and multiplicative noise on packed measurements."""

    def __init__(self, delay_steps: int, noise_std: float, rng: np.random.Generator) -> None:
        self._buffer: deque[np.ndarray] = deque(maxlen=delay_steps + 1)
        #: with a delay, every physics step is measured
        self.delayed = delay_steps > 0
        self._noise, self._rng = noise_std, rng

    def push(self, measurement: np.ndarray) -> None:
        self._buffer.append(measurement)

    def read(self) -> np.ndarray:
        oldest = self._buffer[0]
        if self._noise == 0.0:
            return oldest
        noise = self._rng.standard_normal(oldest.shape).astype(oldest.dtype)
        return oldest * (1.0 + self._noise * noise)


def _assist_levels(device: DeviceRunner | None) -> int:
    """How many assist levels the device's controller keeps (0: none)."""
    level = None if device is None else device.assist_level()
    return 0 if level is None else int(np.size(level))


def _device_record(device: DeviceRunner | None) -> tuple[Any, Any]:
    """(command, assist level) of the device for a record."""
    if device is None:
        return None, None
    return device.command, device.assist_level()


def apply_pushes(data: mujoco.MjData, body: int, pushes: tuple[Push, ...]) -> None:
    """The pushes acting now on ``body`` as its applied force (zero when none acts)."""
    force = np.zeros(3)
    for p in pushes:
        if p.time_s <= data.time < p.time_s + p.duration_s:
            force += p.force_n
    data.xfrc_applied[body, :3] = force


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    built: BuiltModel | None = None,
    controller: Controller | None = None,
    progress: Callable[[float], Any] | None = None,
    pushes: Sequence[Push] = (),
    device_controller: Controller | None = None,
) -> Trace:
    """Run a scenario and return its Trace. ``progress(fraction)`` is called now and then.

    ``controller`` and ``device_controller`` replace the scenario's patient and device
    controllers. ``pushes`` apply external forces to the pelvis (perturbation tests); nothing
    else acts on the body but gravity, the ground, its muscles and the device.
    """
    with quiet_mujoco_warnings() as warning_texts:
        sim = Simulation(scenario, seed, built, controller, device_controller, pushes)
        sim.advance(sim.n_steps, progress)
        trace = sim.finish(progress)
    if warning_texts:
        meta = dict(trace.meta)
        meta["mujoco_warnings"] = warning_texts[:20]
        trace = Trace(trace.time_s, trace.channels, trace.events, meta)
    return trace


class Simulation:
    """One run of a scenario, advanced in steps: :func:`simulate` runs it to its end; a
    Gymnasium environment advances it one device tick at a time.

    With ``external_device`` the device's controller is not run: whoever advances the
    simulation reads the device's sensors (``device.observe``) and writes its command
    (``device.act``) between advances, at the device's rate (``device_every`` physics steps).
    Construction sets the initial state (a failed start sets ``end``); ``advance`` never
    raises for what happens inside the simulation. Without ``record`` nothing is recorded on
    the way (the dynamics are the same: recording changes no state); the trace of ``finish``
    then holds the final state only.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        built: BuiltModel | None = None,
        controller: Controller | None = None,
        device_controller: Controller | None = None,
        pushes: Sequence[Push] = (),
        external_device: bool = False,
        record: bool = True,
    ) -> None:
        self.scenario = scenario
        self.seed = seed = scenario.run.seed if seed is None else seed
        run = scenario.run
        rng = np.random.default_rng(seed)
        self.built = built = built or build_scenario(scenario)
        self.model = model = built.model
        self.index = index = body_index(model)
        self._muscles = slice(0, len(built.muscle_names))  # the first actuators; motors follow
        self.initial = initial = None
        if controller is None:
            controller, initial = patient_controller(scenario, len(built.muscle_names))
            self.initial = initial
        # a course: the runner times its elements and feeds the patient's planner, whose
        # adjustments follow the measurements into the controller
        course = CourseRunner(scenario, built, index) if scenario.course.elements else None
        self._course = course
        layout = PATIENT_LAYOUT + COURSE_INPUTS if course is not None else PATIENT_LAYOUT
        self._loop = loop = compile_for_loop(controller, scenario, layout)
        no_course = np.zeros(sum(n for _, n in COURSE_INPUTS), np.float32)

        def observe(data: mujoco.MjData, running: bool = True) -> np.ndarray:
            """The patient's measurements, and on a course the planner's inputs (none yet
            before the run starts)."""
            obs = measure(data.sensordata, index)
            if course is None:
                return obs
            return np.concatenate([obs, course.tick(data) if running else no_course])

        self._observe = observe
        self.data = data = mujoco.MjData(model)
        self.end: Termination | None = None
        self._trace: Trace | None = None  # made once, by finish()
        self.device: DeviceRunner | None = None
        self._external = external_device
        if built.device is not None:
            try:
                self.device = DeviceRunner(
                    scenario,
                    built,
                    index,
                    seed,
                    device_controller,
                    run_controller=not external_device,
                )
            except Exception as exc:  # a controller bug ends the run, never the caller
                detail = f"device: {type(exc).__name__}: {exc}"
                self.end = Termination("controller_error", 0.0, detail)

        if initial is None:
            data.qpos[:] = built.stand_qpos
        else:
            values = perturbed(
                initial, run.initial_angle_noise_rad, run.initial_speed_noise_m_s, rng
            )
            data.qpos[:], data.qvel[:] = gait_state(model, index, values)
            try:
                settle_activation(
                    lambda: mujoco.mj_forward(model, data),
                    lambda: np.asarray(loop.step(loop.state0, observe(data, False))[1]),
                    data.act,
                )
            except Exception as exc:  # a controller bug ends the run, never the caller
                self.end = Termination("controller_error", 0.0, f"{type(exc).__name__}: {exc}")
        mujoco.mj_forward(model, data)
        limits = FallLimits.of(
            built, index, run.fall_pelvis_height_fraction, run.fall_trunk_pitch_rad
        )

        self.dt = dt = model.opt.timestep
        self.n_steps = max(1, round(run.duration_s / dt))
        self._control_every = steps_per_tick(loop.rate_hz, dt)
        self.device_every = (
            self._control_every if self.device is None else steps_per_tick(self.device.rate_hz, dt)
        )
        self._record_every = steps_per_tick(run.record_rate_hz, dt)
        self._check_every = steps_per_tick(CHECK_RATE_HZ, dt)
        # without recording (an env), the trace holds the final state only
        self._record = record
        self._recorder = Recorder(
            model,
            index,
            self.n_steps // self._record_every + 2 if record else 2,
            len(built.muscle_names),
            built.device,
            _assist_levels(self.device),
        )
        self._sensor = _Sensor(
            round(scenario.controller.sensor_delay_s / dt),
            scenario.controller.sensor_noise_std,
            rng,
        )
        self._state = loop.state0
        self._check_state = _state_check(data, limits)
        self._pushes = tuple(pushes) + tuple(
            Push(t, duration, force) for t, duration, force in pushes_of(scenario)
        )
        # Python visits the loop once per tick, the greatest step count dividing every rate
        # (one step when measurements are delayed); MuJoCo runs the steps in between in one call
        self._tick = (
            1
            if self._sensor.delayed
            else math.gcd(
                self._control_every, self.device_every, self._record_every, self._check_every
            )
        )
        self.step_index = 0  # physics steps taken

    @property
    def done(self) -> bool:
        """The run has ended (fall, blow-up, controller error) or reached its duration."""
        return self.end is not None or self.step_index >= self.n_steps

    @property
    def course(self) -> CourseRunner | None:
        """The course's runner (appearances, perturbations, the planner), None without one:
        a batch taking the run over runs it on (``gaitsim.env.vector``)."""
        return self._course

    @property
    def tick_steps(self) -> int:
        """Physics steps the run's loop takes between visits (the greatest step count
        dividing every rate): pushes and belt forces change at these boundaries."""
        return self._tick

    @property
    def pushes(self) -> tuple[Push, ...]:
        """The pushes on the pelvis: the course's and those given."""
        return self._pushes

    @property
    def patient(self) -> tuple[np.ndarray, Any, int]:
        """The patient controller's flat params, its current flat state and its tick in
        physics steps: what a batch needs to take the run over (``gaitsim.env.vector``)."""
        return self._loop.params, self._state, self._control_every

    def warm_up(self) -> None:
        """Compile the patient's controller now (JAX compiles at the first call), so the first
        tick of a real-time run does not pay for it; changes no state."""
        self._loop.step(self._state, self._observe(self.data, running=False))

    def check(self) -> Termination | None:
        """End the run now if its current state has fallen or blown up (the check the loop
        makes at every tick; after an ``advance`` the last steps are not checked yet)."""
        if self.end is None:
            self.end = self._check_state()
        return self.end

    def advance(
        self, n_steps: int, progress: Callable[[float], Any] | None = None
    ) -> Termination | None:
        """Run up to ``n_steps`` physics steps (a multiple of the tick; fewer at the end of
        the run); returns why the run ended, or None while it goes on."""
        model, data, index = self.model, self.data, self.index
        loop, sensor, device, recorder = self._loop, self._sensor, self.device, self._recorder
        control_every, device_every = self._control_every, self.device_every
        record_every, check_every, tick = self._record_every, self._check_every, self._tick
        n_total, pushes, course, observe = self.n_steps, self._pushes, self._course, self._observe
        run_device = device is not None and not self._external
        progress_every = max(1, n_total // 100)
        stop = min(self.step_index + n_steps, n_total) if self.end is None else self.step_index
        state = self._state
        i = self.step_index
        for i in range(self.step_index, stop, tick):  # noqa: B007 (i is read after the loop)
            control_tick = i % control_every == 0
            record_tick = self._record and i % record_every == 0
            sense_tick = control_tick or sensor.delayed
            if sense_tick or record_tick or i % check_every == 0:
                # checked on ticks, not every step: a fall or blow-up is caught within one
                # tick (MuJoCo's own checks flag bad states in between) at a fraction of the
                # cost
                self.end = self._check_state()
                if self.end is not None:
                    break
            if sense_tick:
                # derived quantities after mj_step describe the state before its last substep:
                # measurements carry that one-physics-step latency, here as in the batch
                sensor.push(observe(data))
            if control_tick:
                try:
                    state, command = loop.step(state, sensor.read())
                    data.ctrl[self._muscles] = command
                except Exception as exc:  # a controller bug ends the run, never the caller
                    detail = f"{type(exc).__name__}: {exc}"
                    self.end = Termination("controller_error", data.time, detail)
                    break
            if run_device and i % device_every == 0:
                try:
                    device.tick(data)  # type: ignore[union-attr]
                except Exception as exc:  # a controller bug ends the run, never the caller
                    detail = f"device: {type(exc).__name__}: {exc}"
                    self.end = Termination("controller_error", data.time, detail)
                    break
            if record_tick:
                # a record describes one instant: refresh the derived quantities first (this
                # changes no state, so the recording rate never changes the dynamics)
                mujoco.mj_forward(model, data)
                recorder.record(data, *_device_record(device))
            if pushes:  # forces change at tick boundaries (every 5 ms at the default rates)
                apply_pushes(data, index.pelvis_body, pushes)
            if course is not None:
                course.apply(data)
            mujoco.mj_step(model, data, nstep=min(tick, n_total - i))
            if progress is not None and i % progress_every < tick:
                progress(i / n_total)
        else:  # every step up to stop was taken
            i = stop
        self.step_index = i
        self._state = state
        return self.end

    def finish(self, progress: Callable[[float], Any] | None = None) -> Trace:
        """End the run (completed if it reached its duration) and return its Trace; later
        calls return the same Trace (the final state is recorded once)."""
        if self._trace is not None:
            return self._trace
        data, device, recorder = self.data, self.device, self._recorder
        end = self.end or self._check_state() or Termination("completed", data.time)
        self.end = end
        if end.reason != "numerical_instability":  # a blown-up state is not worth keeping
            mujoco.mj_forward(self.model, data)
            recorder.record(data, *_device_record(device))  # final state
        if progress is not None:
            progress(1.0)
        time_s, channels = recorder.finish()
        events = [
            Event(p.time_s, "push", {"force_n": list(p.force_n), "duration_s": p.duration_s})
            for p in self._pushes
            if p.time_s <= end.time_s
        ]
        if self._course is not None:
            events += self._course.events
        if device is not None and device.stopped_at_s is not None:
            events.append(
                Event(device.stopped_at_s, "safety_stop", {"detail": "non_finite_command"})
            )
        last = Event(end.time_s, end.reason, {"detail": end.detail})
        meta = _meta(
            self.scenario, self.seed, self.built, end, self.dt, self._record_every * self.dt
        )
        # a run started in a gait state has a start transient the gait metrics leave out
        meta["transient_s"] = 0.0 if self.initial is None else GAIT_START_TRANSIENT_S
        if device is not None:  # device ticks on which the safety layer acted, per kind
            meta["safety"] = dict(device.safety.counts)

        def trace_with(events: list[Event]) -> Trace:
            return Trace(time_s, channels, (*sorted(events, key=lambda e: e.time_s), last), meta)

        trace = trace_with(events)
        if self._course is not None and self._record:
            # the clinic's feedback: the cue analyser over the recorded sensor data, sample
            # by sample (it never looks ahead: each cue's time is when it is given live)
            from gaitsim.metrics.cues import cues_of

            trace = trace_with(events + cues_of(trace))
        self._trace = trace
        return trace


def _meta(
    scenario: Scenario,
    seed: int,
    built: BuiltModel,
    end: Termination,
    physics_step_s: float,
    record_step_s: float,
) -> dict[str, Any]:
    return {
        "scenario": to_dict(scenario),
        "scenario_name": scenario.name,
        "seed": seed,
        "versions": {
            "gaitsim": gaitsim.__version__,
            "mujoco": mujoco.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "physics_step_s": physics_step_s,
        "record_step_s": record_step_s,
        "body": {
            "mass_kg": built.mass_kg,
            "height_m": built.height_m,
            "leg_length_m": built.leg_length_m,
        },
        "muscle_names": list(built.muscle_names),
        "muscles": muscle_parameters(built),
        "device": _device_meta(built),
        "termination": {"reason": end.reason, "time_s": round(end.time_s, 9), "detail": end.detail},
    }


def _device_meta(built: BuiltModel) -> dict[str, Any] | None:
    """The device's modules and their motors' limits (None without a device)."""
    device = built.device
    if device is None:
        return None
    return {
        "modules": [list(m) for m in device.modules],
        "actuators": [a.name for a in device.actuators],
        "peak_torque_nm": [a.peak_torque_nm for a in device.actuators],
        "continuous_torque_nm": [a.continuous_torque_nm for a in device.actuators],
        "max_speed_rad_s": [a.max_speed_rad_s for a in device.actuators],
        "mass_kg": device.mass_kg,
    }

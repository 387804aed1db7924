"""The device's side of a simulation: what its sensors measure, and its commands into the motors.

Measurements travel packed in :func:`device_layout` order (float32), like the patient's:

- ``joint_angle_rad`` (n): the module encoders, quantised to the encoder's resolution;
- ``joint_velocity_rad_s`` (n): the encoder angle differenced over one device tick, as a
  motor driver does it (so it carries the quantisation);
- ``motor_torque_nm`` (n): motor output torque from current sensing, with noise;
- ``foot_load_n`` (2): insole vertical force per foot (left, right), at the insole's rate;
- ``thigh_angle_rad``, ``thigh_rate_rad_s``, ``shank_angle_rad``, ``shank_rate_rad_s`` (2
  each): sagittal IMUs on the cuffs; angle from standing, distal end forward +, as the
  segment angles of the Trace (an orientation filter's output, with noise);
- ``emg`` (one per muscle, optional): surface EMG envelopes, fraction of maximum. Raw EMG is
  modelled as band-limited Gaussian noise (the ``emg_band_hz`` band) whose amplitude follows
  the muscle's excitation (the neural drive; Hogan & Mann 1980 [memory]); after full-wave
  rectification and the envelope's low-pass (``emg_envelope_hz``) its mean is the excitation
  and what is left of the noise is a relative fluctuation of
  sqrt(pi/2 - 1) sqrt(2 f_envelope / bandwidth) (the rectified noise's relative spread,
  averaged over the envelope's bandwidth). So the envelope is computed at the device rate, in
  closed form: low-passed excitation x (1 + that fluctuation) + electrode noise.

n is the number of modules, in the device's canonical order (``BuiltDevice.modules``). Every
reading is taken ``latency`` device ticks late. The same dict shape (:func:`unpack`) is what
a hardware interface's ``read()`` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.control.config import DeviceContext
from gaitsim.control.devices import device_controller
from gaitsim.control.interface import Controller
from gaitsim.control.loop import LoopController, compile_for_loop
from gaitsim.hardware.safety import SafetyLimits, SimulatedSafety, limits_for_device
from gaitsim.model.assemble import FOOT_VERTICAL_FORCE, BuiltModel
from gaitsim.model.devices import BuiltDevice, module_name, saturate
from gaitsim.sim.sensing import BodyIndex
from gaitsim.spec import DeviceSensing, Scenario

Layout = tuple[tuple[str, int], ...]

IMU_SEGMENTS = ("thigh", "shank")


def device_layout(n_modules: int, n_emg: int = 0) -> Layout:
    """Packed order of a device's measurements with ``n_modules`` modules (and ``n_emg``
    EMG channels)."""
    return (
        *_base_layout(n_modules),
        *((("emg", n_emg),) if n_emg else ()),
    )


def _base_layout(n_modules: int) -> Layout:
    return (
        ("joint_angle_rad", n_modules),
        ("joint_velocity_rad_s", n_modules),
        ("motor_torque_nm", n_modules),
        ("foot_load_n", 2),
        ("thigh_angle_rad", 2),
        ("thigh_rate_rad_s", 2),
        ("shank_angle_rad", 2),
        ("shank_rate_rad_s", 2),
    )


@dataclass(frozen=True)
class DeviceIndex:
    """Model addresses the device's sensors read, resolved once."""

    device: BuiltDevice
    load: np.ndarray  # sensordata addresses of the feet's vertical force
    segment_body: np.ndarray  # thigh left, right, shank left, right
    segment_rate: np.ndarray  # (4, nv): segment rates = this @ qvel


def device_index(model: mujoco.MjModel, index: BodyIndex, device: BuiltDevice) -> DeviceIndex:
    bodies = [index.segment_body[(seg, side)] for seg in IMU_SEGMENTS for side in C.SIDES]
    # sagittal chain, distal end forward +: forward pitch moves the distal ends back, hip
    # flexion swings thigh and shank forward, knee flexion swings the shank back
    rate = np.zeros((len(bodies), model.nv))
    for k, (seg, side) in enumerate((s, d) for s in IMU_SEGMENTS for d in C.SIDES):
        rate[k, index.dof["pelvis_pitch"]] = -1.0
        rate[k, index.dof[C.joint_name("hip", side)]] = 1.0
        if seg == "shank":
            rate[k, index.dof[C.joint_name("knee", side)]] = -1.0
    return DeviceIndex(
        device,
        np.array([index.foot_sensor[s] + FOOT_VERTICAL_FORCE for s in C.SIDES]),
        np.array(bodies),
        rate,
    )


def true_measurements(
    data: mujoco.MjData, ix: DeviceIndex, n_muscles: int = 0
) -> dict[str, np.ndarray]:
    """What ideal sensors would read now (no noise, no quantisation); with ``n_muscles``, the
    muscles' excitation for the EMG."""
    return true_measurements_of(
        data.qpos,
        data.qvel,
        data.actuator_force,
        data.sensordata,
        data.xmat,
        data.ctrl,
        ix,
        n_muscles,
    )


def true_measurements_of(
    qpos: np.ndarray,
    qvel: np.ndarray,
    actuator_force: np.ndarray,
    sensordata: np.ndarray,
    xmat: np.ndarray,
    ctrl: np.ndarray,
    ix: DeviceIndex,
    n_muscles: int = 0,
) -> dict[str, np.ndarray]:
    """:func:`true_measurements` from MjData's fields, for one simulation or, with a leading
    member axis on every field (a ``mujoco.batch`` binding), for a batch."""
    dev = ix.device
    rot = xmat[..., ix.segment_body, :]
    angle = -np.arctan2(rot[..., 2], rot[..., 0])  # as the Trace's segment angles
    rates = qvel @ ix.segment_rate.T
    return {
        "joint_angle_rad": qpos[..., dev.device_qpos],
        "joint_velocity_rad_s": qvel[..., dev.device_dof],
        "motor_torque_nm": actuator_force[..., dev.motor],
        "foot_load_n": sensordata[..., ix.load],
        "thigh_angle_rad": angle[..., :2],
        "thigh_rate_rad_s": rates[..., :2],
        "shank_angle_rad": angle[..., 2:],
        "shank_rate_rad_s": rates[..., 2:],
        "muscle_excitation": ctrl[..., :n_muscles],
    }


class DeviceSensors:
    """Resolution, noise, rate and latency of the device's sensors (settings: the scenario's
    ``device.sensing``), turning true values into measurements once per device tick.

    It senses ``len(rngs)`` members at once (a batch; one is a single simulation), each with
    its own random stream and its own sensor state, so a member measures what it would alone;
    :meth:`restart` starts one member afresh (a new episode), optionally with its own noise
    levels, resolution, insole rate and latency (domain randomisation; the EMG settings are
    shared). Each tick draws, per member, one vector of standard normals: the insole's (on
    its ticks), the EMG's fluctuation, motor torque, IMU angles and rates, electrode noise.
    """

    def __init__(
        self,
        settings: DeviceSensing,
        n_modules: int,
        tick_s: float,
        rngs: list[np.random.Generator],
        n_muscles: int = 0,
    ) -> None:
        self._s, self._rngs, self._tick = settings, list(rngs), tick_s
        self.n_emg = e = n_muscles if settings.emg else 0
        self._layout = device_layout(n_modules, self.n_emg)
        self._n = n_modules
        lo, hi = settings.emg_band_hz
        self._emg_spread = math.sqrt(math.pi / 2 - 1) * math.sqrt(
            2 * settings.emg_envelope_hz / max(hi - lo, 1e-9)
        )
        # first-order low-pass of the envelope at the tick rate
        self._emg_alpha = tick_s / (tick_s + 1 / (2 * math.pi * settings.emg_envelope_hz))
        members, size = len(self._rngs), sum(n for _, n in self._layout)
        # a ring per member, long enough for the longest latency a scenario allows
        self._slots = self._latency_ticks(DeviceSensing.model_fields["latency_s"].metadata) + 1
        self._queue = np.zeros((self._slots, members, size))
        self._write = np.zeros(members, np.int64)  # the slot the next reading goes to
        self._last_angle = np.zeros((members, n_modules))
        self._load = np.zeros((members, 2))
        self._emg = np.zeros((members, e))
        self._k = np.zeros(members, np.int64)
        self._fresh = np.ones(members, bool)
        # per member and tick: insole (2), EMG fluctuation, torque, 4 x 2 IMU, electrode noise
        self._draws = 2 + e + n_modules + 8 + e
        self._std = np.zeros((members, self._draws))
        self._resolution = np.zeros((members, 1))
        self._insole_every = np.ones(members, np.int64)
        self._latency = np.zeros(members, np.int64)
        for member in range(members):
            self._configure(member, settings)

    def _latency_ticks(self, latency: Any) -> int:
        if not isinstance(latency, float):  # the field's bound: its metadata (le=...)
            latency = max(getattr(m, "le", 0.0) for m in latency)
        return max(0, math.floor(latency / self._tick + 0.5))

    def _configure(self, member: int, s: DeviceSensing) -> None:
        """A member's noise levels, resolution, insole rate and latency."""
        e, n = self.n_emg, self._n
        self._std[member] = np.r_[
            np.full(2, s.insole_noise_n),
            np.full(e, self._emg_spread),
            np.full(n, s.torque_noise_nm),
            np.full(2, s.imu_angle_noise_rad),
            np.full(2, s.imu_rate_noise_rad_s),
            np.full(2, s.imu_angle_noise_rad),
            np.full(2, s.imu_rate_noise_rad_s),
            np.full(e, s.emg_noise),
        ]
        self._resolution[member] = 2.0 * math.pi / 2**s.encoder_bits
        # slower sensors hold their last sample between their own ticks
        self._insole_every[member] = max(1, round(1.0 / (s.insole_rate_hz * self._tick)))
        self._latency[member] = self._latency_ticks(s.latency_s)

    def restart(
        self, member: int, rng: np.random.Generator, settings: DeviceSensing | None = None
    ) -> None:
        """Member ``member`` starts afresh (no previous sample, empty latency line) on
        ``rng``, with ``settings``' noise, resolution, insole rate and latency if given."""
        self._rngs[member] = rng
        self._k[member] = 0
        self._fresh[member] = True
        if settings is not None:
            self._configure(member, settings)

    def read(self, true: dict[str, np.ndarray], members: np.ndarray | None = None) -> np.ndarray:
        """This tick's packed measurement (float32) per member, ``(members, size)``, from this
        tick's true values (each with a leading member axis); ``members`` (indices) reads only
        those, whose true values ``true`` holds. For true values without the member axis (one
        simulation), the one member's measurement, ``(size,)``."""
        if true["joint_angle_rad"].ndim == 1:
            return self.read({k: v[None] for k, v in true.items()})[0]
        ids = np.arange(len(self._rngs)) if members is None else np.asarray(members)
        n, e = self._n, self.n_emg
        fresh = self._fresh[ids]
        k = self._k[ids]
        insole = (k % self._insole_every[ids] == 0) | fresh
        z = np.zeros((len(ids), self._draws))
        for j, member in enumerate(ids):
            rng = self._rngs[member]
            if insole[j]:
                z[j] = rng.standard_normal(self._draws)
            else:
                z[j, 2:] = rng.standard_normal(self._draws - 2)
        z *= self._std[ids]
        res = self._resolution[ids]
        angle = np.round(true["joint_angle_rad"] / res) * res
        # the first tick has no previous sample to difference
        velocity = np.where(
            fresh[:, None],
            np.round(true["joint_velocity_rad_s"] / res) * res,
            (angle - self._last_angle[ids]) / self._tick,
        )
        self._last_angle[ids] = angle
        load = np.maximum(true["foot_load_n"] + z[:, :2], 0.0)
        load = np.where(insole[:, None], load, self._load[ids])
        self._load[ids] = load
        self._k[ids] = k + 1
        imu = z[:, 2 + e + n : 2 + e + n + 8]
        parts = [
            angle,
            velocity,
            true["motor_torque_nm"] + z[:, 2 + e : 2 + e + n],
            load,
            true["thigh_angle_rad"] + imu[:, 0:2],
            true["thigh_rate_rad_s"] + imu[:, 2:4],
            true["shank_angle_rad"] + imu[:, 4:6],
            true["shank_rate_rad_s"] + imu[:, 6:8],
        ]
        if e:
            u = true["muscle_excitation"][:, :e]
            rectified = u * (1.0 + z[:, 2 : 2 + e])
            prev = np.where(fresh[:, None], rectified, self._emg[ids])
            emg = prev + self._emg_alpha * (rectified - prev)
            self._emg[ids] = emg
            parts.append(np.maximum(emg + np.abs(z[:, -e:]), 0.0))
        now = np.concatenate(parts, axis=1)
        slot = self._write[ids]
        self._queue[slot, ids] = now
        if fresh.any():  # a member's first reading fills its latency line
            self._queue[:, ids[fresh]] = now[fresh]
        self._write[ids] = (slot + 1) % self._slots
        self._fresh[ids] = False
        # each member's reading ``latency`` ticks ago
        return self._queue[(slot - self._latency[ids]) % self._slots, ids].astype(np.float32)


def device_limits(model: mujoco.MjModel, device: BuiltDevice, rate_hz: float) -> SafetyLimits:
    """The safety limits of a built device (its actuators, its modules' joint ranges), the
    same in simulation and on the robot."""
    ranges = [model.jnt_range[model.joint(module_name(j, s)).id] for s, j in device.modules]
    return limits_for_device(device, 1.0 / rate_hz, ranges)


def apply_command(data: mujoco.MjData, device: BuiltDevice, command: np.ndarray) -> np.ndarray:
    """Write a torque command into the motors within their torque-speed envelope at the
    current speed; returns what was written."""
    torque = saturate(
        np.asarray(command, dtype=float),
        data.qvel[device.device_dof],
        device.peak_torque_nm,
        device.max_speed_rad_s,
    )
    data.ctrl[device.motor] = torque
    return torque


def device_loop(
    scenario: Scenario,
    built: BuiltModel,
    index: BodyIndex,
    controller: Controller | None = None,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
) -> LoopController:
    """The device controller compiled for a fixed-rate loop: ``controller``, else the
    configuration ``name`` (default: the scenario's, with its settings) made for this device
    and wearer. What the simulation's device runner and the hardware loop both step."""
    device = built.device
    assert device is not None
    spec = scenario.device
    n_emg = len(built.muscle_names) if spec.sensing.emg else 0
    if controller is None:
        belt = index.belt_speed_m_s if index.belt_qpos is not None else None
        context = DeviceContext(device, spec.rate_hz, built.mass_kg, built.height_m, belt, n_emg)
        if name is None:
            name, settings = spec.controller, dict(spec.controller_settings)
        controller = device_controller(name, context, settings)
    return compile_for_loop(controller, scenario, device_layout(device.size, n_emg))


class DeviceRunner:
    """The device in a simulation loop: at each of its ticks, sensors -> controller -> motors.

    ``command`` is the last command (before the safety layer), ``torque`` what went into the
    motors: the command through the safety layer (``safety``, the robot's limits, on the
    last measured joint angles and velocities) and then the motors' torque-speed envelope.
    Without ``run_controller`` the runner only measures (``observe``) and drives (``act``):
    whoever advances the simulation is the controller (a Gymnasium agent). A controller
    exception propagates: the caller ends the run with it.
    """

    def __init__(
        self,
        scenario: Scenario,
        built: BuiltModel,
        index: BodyIndex,
        seed: int,
        controller: Controller | None = None,
        run_controller: bool = True,
    ) -> None:
        device = built.device
        assert device is not None
        spec = scenario.device
        n_muscles = len(built.muscle_names)
        n_emg = n_muscles if spec.sensing.emg else 0
        self.layout = device_layout(device.size, n_emg)
        self.loop = None
        self.rate_hz = spec.rate_hz
        if run_controller:
            self.loop = device_loop(scenario, built, index, controller)
            self.rate_hz = self.loop.rate_hz
        self.device = device
        tick_s = 1.0 / self.rate_hz
        # its own random stream: adding a device leaves the patient's draws unchanged
        #: the sensors' random stream
        self.rng = rng = np.random.default_rng((seed, 1))
        self.sensors = DeviceSensors(spec.sensing, device.size, tick_s, [rng], n_muscles)
        self.index = device_index(built.model, index, device)
        self._n_emg = n_emg
        self.state = None if self.loop is None else self.loop.state0
        self.command = np.zeros(device.size)
        self.torque = np.zeros(device.size)
        self.safety = SimulatedSafety(device_limits(built.model, device, self.rate_hz))
        n = device.size
        self._angle, self._velocity = slice(0, n), slice(n, 2 * n)  # device_layout's first
        self._measured = np.zeros(sum(size for _, size in self.layout), np.float32)
        #: when a non-finite command latched the safety layer's protective stop (s), or None
        self.stopped_at_s: float | None = None

    def assist_level(self) -> np.ndarray | None:
        """The controller's assist level per leg (left, right) now, when it keeps one."""
        if self.loop is None or self.loop.level is None:
            return None
        return np.asarray(self.state)[self.loop.level]

    def observe(self, data: mujoco.MjData) -> np.ndarray:
        """This tick's measurements (packed in ``layout`` order, float32)."""
        self._measured = self.sensors.read(true_measurements(data, self.index, self._n_emg))
        return self._measured

    def act(self, data: mujoco.MjData, command: Any) -> None:
        """Drive the motors with a torque command (N m per module) through the safety layer
        (on the last observed measurements), within the motors' envelope."""
        self.command = np.asarray(command, dtype=float)
        m = self._measured
        safe = self.safety.filter(self.command[None], m[self._angle], m[self._velocity])[0]
        if self.stopped_at_s is None and self.safety.stopped[0]:
            self.stopped_at_s = float(data.time)
        self.torque = apply_command(data, self.device, safe)

    def tick(self, data: mujoco.MjData) -> None:
        """One tick with the runner's own controller."""
        assert self.loop is not None, "this runner has no controller: observe and act instead"
        self.state, command = self.loop.step(self.state, self.observe(data))
        self.act(data, command)

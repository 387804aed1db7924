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
from collections import deque
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.control.config import DeviceContext
from gaitsim.control.devices import device_controller
from gaitsim.control.interface import Controller
from gaitsim.control.loop import compile_for_loop
from gaitsim.model.assemble import FOOT_VERTICAL_FORCE, BuiltModel
from gaitsim.model.devices import BuiltDevice, saturate
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
    dev = ix.device
    rot = data.xmat[ix.segment_body]
    angle = -np.arctan2(rot[:, 2], rot[:, 0])  # as the Trace's segment angles
    rates = ix.segment_rate @ data.qvel
    return {
        "joint_angle_rad": data.qpos[dev.device_qpos].copy(),
        "joint_velocity_rad_s": data.qvel[dev.device_dof].copy(),
        "motor_torque_nm": data.actuator_force[dev.motor].copy(),
        "foot_load_n": data.sensordata[ix.load].copy(),
        "thigh_angle_rad": angle[:2],
        "thigh_rate_rad_s": rates[:2],
        "shank_angle_rad": angle[2:],
        "shank_rate_rad_s": rates[2:],
        "muscle_excitation": data.ctrl[:n_muscles].copy(),
    }


class DeviceSensors:
    """Resolution, noise, rate and latency of the device's sensors (settings: the scenario's
    ``device.sensing``), turning true values into measurements once per device tick."""

    def __init__(
        self,
        settings: DeviceSensing,
        n_modules: int,
        tick_s: float,
        rng: np.random.Generator,
        n_muscles: int = 0,
    ) -> None:
        self._s, self._rng, self._tick = settings, rng, tick_s
        self.n_emg = n_muscles if settings.emg else 0
        self._layout = device_layout(n_modules, self.n_emg)
        lo, hi = settings.emg_band_hz
        self._emg_spread = math.sqrt(math.pi / 2 - 1) * math.sqrt(
            2 * settings.emg_envelope_hz / max(hi - lo, 1e-9)
        )
        # first-order low-pass of the envelope at the tick rate
        self._emg_alpha = tick_s / (tick_s + 1 / (2 * math.pi * settings.emg_envelope_hz))
        self._emg: np.ndarray | None = None
        self._resolution = 2.0 * math.pi / 2**settings.encoder_bits
        # slower sensors hold their last sample between their own ticks
        self._insole_every = max(1, round(1.0 / (settings.insole_rate_hz * tick_s)))
        latency = max(0, math.floor(settings.latency_s / tick_s + 0.5))
        self._queue: deque[np.ndarray] = deque(maxlen=latency + 1)
        self._last_angle: np.ndarray | None = None
        self._load: np.ndarray | None = None
        self._k = 0

    def read(self, true: dict[str, np.ndarray]) -> np.ndarray:
        """This tick's packed measurement (float32), from this tick's true values."""
        s, rng = self._s, self._rng
        angle = np.round(true["joint_angle_rad"] / self._resolution) * self._resolution
        if self._last_angle is None:  # the first tick has no previous sample to difference
            velocity = np.round(true["joint_velocity_rad_s"] / self._resolution) * self._resolution
        else:
            velocity = (angle - self._last_angle) / self._tick
        self._last_angle = angle
        if self._k % self._insole_every == 0 or self._load is None:
            self._load = np.maximum(
                true["foot_load_n"] + s.insole_noise_n * rng.standard_normal(2), 0.0
            )
        self._k += 1

        def noisy(name: str, std: float) -> np.ndarray:
            return true[name] + std * rng.standard_normal(true[name].shape)

        if self.n_emg:
            u = true["muscle_excitation"][: self.n_emg]
            rectified = u * (1.0 + self._emg_spread * rng.standard_normal(u.shape))
            prev = rectified if self._emg is None else self._emg
            self._emg = prev + self._emg_alpha * (rectified - prev)
        values = {
            "joint_angle_rad": angle,
            "joint_velocity_rad_s": velocity,
            "motor_torque_nm": noisy("motor_torque_nm", s.torque_noise_nm),
            "foot_load_n": self._load,
            "thigh_angle_rad": noisy("thigh_angle_rad", s.imu_angle_noise_rad),
            "thigh_rate_rad_s": noisy("thigh_rate_rad_s", s.imu_rate_noise_rad_s),
            "shank_angle_rad": noisy("shank_angle_rad", s.imu_angle_noise_rad),
            "shank_rate_rad_s": noisy("shank_rate_rad_s", s.imu_rate_noise_rad_s),
        }
        if self._emg is not None:
            noise = s.emg_noise * np.abs(rng.standard_normal(self.n_emg))
            values["emg"] = np.maximum(self._emg + noise, 0.0)
        self._queue.append(np.concatenate([values[name] for name, _ in self._layout]))
        return self._queue[0].astype(np.float32)


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


class DeviceRunner:
    """The device in a simulation loop: at each of its ticks, sensors -> controller -> motors.

    ``command`` is the last command (before saturation), ``torque`` what went into the motors.
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
            if controller is None:
                belt = index.belt_speed_m_s if index.belt_qpos is not None else None
                context = DeviceContext(
                    device, spec.rate_hz, built.mass_kg, built.height_m, belt, n_emg
                )
                controller = device_controller(spec.controller, context, spec.controller_settings)
            self.loop = compile_for_loop(controller, scenario, self.layout)
            self.rate_hz = controller.rate_hz
        self.device = device
        tick_s = 1.0 / self.rate_hz
        # its own random stream: adding a device leaves the patient's draws unchanged
        rng = np.random.default_rng((seed, 1))
        self.sensors = DeviceSensors(spec.sensing, device.size, tick_s, rng, n_muscles)
        self.index = device_index(built.model, index, device)
        self._n_emg = n_emg
        self.state = None if self.loop is None else self.loop.state0
        self.command = np.zeros(device.size)
        self.torque = np.zeros(device.size)

    def observe(self, data: mujoco.MjData) -> np.ndarray:
        """This tick's measurements (packed in ``layout`` order, float32)."""
        return self.sensors.read(true_measurements(data, self.index, self._n_emg))

    def act(self, data: mujoco.MjData, command: Any) -> None:
        """Drive the motors with a torque command (N m per module), within their limits."""
        self.command = np.asarray(command, dtype=float)
        self.torque = apply_command(data, self.device, self.command)

    def tick(self, data: mujoco.MjData) -> None:
        """One tick with the runner's own controller."""
        assert self.loop is not None, "this runner has no controller: observe and act instead"
        self.state, command = self.loop.step(self.state, self.observe(data))
        self.act(data, command)

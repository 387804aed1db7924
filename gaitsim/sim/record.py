"""Recording a run into Trace channels (names and conventions: ``gaitsim.sim.trace``)."""

from __future__ import annotations

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.model.assemble import FOOT_COP, FOOT_FORCE
from gaitsim.model.devices import BuiltDevice, interaction_torque
from gaitsim.sim.sensing import BodyIndex

#: Per-module device channels (``device_{side}_{joint}_{quantity}``), (T,) each.
DEVICE_QUANTITIES = (
    "command_nm",  # the controller's command, before the motor's limits
    "torque_nm",  # the motor's output torque
    "interaction_nm",  # torque on the anatomical joint through the cuff (+ joint positive)
    "angle_rad",  # the module's link angle (clinical sign of its joint)
    "velocity_rad_s",
)


def device_channel(quantity: str, joint: str, side: str) -> str:
    """Trace channel of a device module's quantity, e.g. ``device_left_knee_torque_nm``."""
    return f"device_{side}_{joint}_{quantity}"


class Recorder:
    """Preallocated channel buffers filled one sample at a time.

    Channels of one kind (joint angles, segment positions, ...) are columns of one buffer, so a
    sample is a few gathers, not one assignment per channel. Leg segments are recorded by the
    position of their proximal joint and their world angle: the rotation from their standing
    orientation, positive when the distal end moves forward/up (thigh forward, shank forward,
    toes up).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        index: BodyIndex,
        capacity: int,
        n_muscles: int,
        device: BuiltDevice | None = None,
        assist_levels: int = 0,
    ) -> None:
        self._index, self._n, self._device = index, 0, device
        sided = [(side, joint) for side in C.SIDES for joint in C.JOINTS]  # leg_qpos order
        segments = [(segment, side) for side in C.SIDES for segment in C.LEG_SEGMENTS]
        spheres = [(g, s) for s in C.SIDES for g in (index.heel_geom[s], index.toe_geom[s])]
        self._bodies = np.array([index.segment_body[k] for k in segments])
        self._spheres = np.array([g for g, _ in spheres])
        # the lowest point of a contact sphere: its centre less its radius
        self._sphere_drop = np.array([[0.0, 0.0, model.geom_size[g, 0]] for g, _ in spheres])
        feet = [index.foot_sensor[s] for s in C.SIDES]
        self._grf = np.array(
            [[a + k for k in range(FOOT_FORCE.start, FOOT_FORCE.stop)] for a in feet]
        )
        self._cop = np.array([[a + k for k in range(FOOT_COP.start, FOOT_COP.stop)] for a in feet])
        nu = self._nu = n_muscles  # the first actuators

        def buffer(*shape: int) -> np.ndarray:
            return np.zeros((capacity, *shape))

        self.time_s = buffer()
        self._angles, self._rates = buffer(len(sided)), buffer(len(sided))
        self._seg_pos, self._seg_angle = buffer(len(segments), 3), buffer(len(segments))
        self._sphere_pos = buffer(len(spheres), 3)
        self._foot_force, self._foot_cop = buffer(2, 3), buffer(2, 3)
        self._body = {name: buffer(3) for name in ("pelvis_pos_m", "com_pos_m", "com_vel_m_s")}
        self._pitch = buffer(2)  # trunk (pelvis) pitch and its rate
        self._muscle = {name: buffer(nu) for name in C.MUSCLE_CHANNELS}
        ch: dict[str, np.ndarray] = {**self._body, **self._muscle}
        for k, (side, joint) in enumerate(sided):
            ch[C.angle_channel(joint, side)] = self._angles[:, k]
            ch[C.velocity_channel(joint, side)] = self._rates[:, k]
        for k, (segment, side) in enumerate(segments):
            ch[f"{segment}_{side}_pos_m"] = self._seg_pos[:, k]
            ch[f"{segment}_{side}_angle_rad"] = self._seg_angle[:, k]
        for k, side in enumerate(C.SIDES):
            ch[C.heel_channel(side)] = self._sphere_pos[:, 2 * k]
            ch[C.toe_channel(side)] = self._sphere_pos[:, 2 * k + 1]
            ch[C.grf_channel(side)] = self._foot_force[:, k]
            ch[f"cop_{side}_m"] = self._foot_cop[:, k]
        ch["pelvis_pitch_rad"] = ch["trunk_pitch_rad"] = self._pitch[:, 0]
        ch["trunk_pitch_rate_rad_s"] = self._pitch[:, 1]
        if index.belt_qpos is not None:
            self._belt = buffer(2)
            ch["belt_pos_m"], ch["belt_velocity_m_s"] = self._belt[:, 0], self._belt[:, 1]
        # a gait trainer's harness: the body-weight support it gives (N, upward)
        names = [model.actuator(i).name for i in range(model.nu)]
        self._support = names.index("trainer_support") if "trainer_support" in names else None
        if self._support is not None:
            self._support_n = buffer()
            ch["support_force_n"] = self._support_n
        if device is not None:
            self._dev = {q: buffer(device.size) for q in DEVICE_QUANTITIES}
            for k, (side, joint) in enumerate(device.modules):
                for q in DEVICE_QUANTITIES:
                    ch[device_channel(q, joint, side)] = self._dev[q][:, k]
        # a device controller's assist level per leg (``device_assist_level``), when it has one
        self._level = buffer(assist_levels) if assist_levels else None
        if self._level is not None:
            ch["device_assist_level"] = self._level
        self.channels = ch
        self._model = model

    def record(
        self,
        data: mujoco.MjData,
        device_command: np.ndarray | None = None,
        assist_level: np.ndarray | None = None,
    ) -> None:
        """Append the current state (call after a forward pass so derived fields are fresh);
        ``device_command``: the device controller's latest command (with a device);
        ``assist_level``: its assist level per leg (when the recorder was made for one)."""
        ix, i = self._index, self._n
        self.time_s[i] = data.time
        self._angles[i] = data.qpos[ix.leg_qpos]
        self._rates[i] = data.qvel[ix.leg_dof]
        self._sphere_pos[i] = data.geom_xpos[self._spheres] - self._sphere_drop
        self._seg_pos[i] = data.xpos[self._bodies]
        rot = data.xmat[self._bodies]  # row-major 3x3; a pure rotation about y in this plane
        self._seg_angle[i] = -np.arctan2(rot[:, 2], rot[:, 0])
        self._foot_force[i] = data.sensordata[self._grf]
        self._foot_cop[i] = data.sensordata[self._cop]
        self._pitch[i] = data.qpos[ix.qpos["pelvis_pitch"]], data.qvel[ix.dof["pelvis_pitch"]]
        mujoco.mj_subtreeVel(self._model, data)
        self._body["pelvis_pos_m"][i] = data.xpos[ix.pelvis_body]
        # the body's subtree (with what it wears), not the world's: a treadmill belt is not
        self._body["com_pos_m"][i] = data.subtree_com[ix.pelvis_body]
        self._body["com_vel_m_s"][i] = data.subtree_linvel[ix.pelvis_body]
        nu = self._nu
        self._muscle["muscle_excitation"][i] = data.ctrl[:nu]
        self._muscle["muscle_activation"][i] = data.act
        self._muscle["muscle_length_m"][i] = data.actuator_length[:nu]
        self._muscle["muscle_velocity_m_s"][i] = data.actuator_velocity[:nu]
        self._muscle["muscle_force_n"][i] = -data.actuator_force[:nu]
        if ix.belt_qpos is not None:
            self._belt[i] = data.qpos[ix.belt_qpos], data.qvel[ix.belt_dof]
        if self._support is not None:
            self._support_n[i] = data.actuator_force[self._support]
        dev = self._device
        if dev is not None:
            self._dev["command_nm"][i] = device_command
            self._dev["torque_nm"][i] = data.actuator_force[dev.motor]
            self._dev["interaction_nm"][i] = interaction_torque(data, dev)
            self._dev["angle_rad"][i] = data.qpos[dev.device_qpos]
            self._dev["velocity_rad_s"][i] = data.qvel[dev.device_dof]
        if self._level is not None and assist_level is not None:
            self._level[i] = assist_level
        self._n += 1

    def finish(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The recorded samples (trimmed to what was recorded)."""
        n = self._n
        return self.time_s[:n].copy(), {k: v[:n].copy() for k, v in self.channels.items()}

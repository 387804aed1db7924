"""Recording a run into Trace channels (names and conventions: ``gaitsim.sim.trace``)."""

from __future__ import annotations

import mujoco
import numpy as np

from gaitsim import constants as C
from gaitsim.sim.sensing import BodyIndex, centres_of_pressure, foot_forces

#: Leg segments whose proximal-joint position and world angle are recorded. The angle is the
#: segment's rotation from its standing orientation, positive when the distal end moves
#: forward/up (thigh forward, shank forward, toes up).


class Recorder:
    """Preallocated channel buffers filled one sample at a time."""

    def __init__(self, model: mujoco.MjModel, index: BodyIndex, capacity: int) -> None:
        self._model, self._index, self._n = model, index, 0
        nu = model.nu
        shapes: dict[str, tuple[int, ...]] = {
            "pelvis_pos_m": (3,),
            "pelvis_pitch_rad": (),
            "trunk_pitch_rad": (),
            "trunk_pitch_rate_rad_s": (),
            "com_pos_m": (3,),
            "com_vel_m_s": (3,),
        }
        for side in C.SIDES:
            for joint in C.JOINTS:
                shapes[C.angle_channel(joint, side)] = ()
                shapes[C.velocity_channel(joint, side)] = ()
            for segment in C.LEG_SEGMENTS:
                shapes[f"{segment}_{side}_pos_m"] = (3,)
                shapes[f"{segment}_{side}_angle_rad"] = ()
            shapes[C.grf_channel(side)] = (3,)
            shapes[f"cop_{side}_m"] = (3,)
            shapes[C.heel_channel(side)] = (3,)
            shapes[C.toe_channel(side)] = (3,)
        shapes.update({name: (nu,) for name in C.MUSCLE_CHANNELS})
        self.time_s = np.zeros(capacity)
        self.channels = {k: np.zeros((capacity, *s)) for k, s in shapes.items()}

    def record(self, data: mujoco.MjData) -> None:
        """Append the current state (call after a forward pass so derived fields are fresh)."""
        m, ix, i, ch = self._model, self._index, self._n, self.channels
        self.time_s[i] = data.time
        for side in C.SIDES:
            for joint in C.JOINTS:
                name = C.joint_name(joint, side)
                ch[C.angle_channel(joint, side)][i] = data.qpos[ix.qpos[name]]
                ch[C.velocity_channel(joint, side)][i] = data.qvel[ix.dof[name]]
            for geom_ids, channel in ((ix.heel_geom, C.heel_channel), (ix.toe_geom, C.toe_channel)):
                g = geom_ids[side]
                ch[channel(side)][i] = data.geom_xpos[g] - [0.0, 0.0, m.geom_size[g, 0]]
            for segment in C.LEG_SEGMENTS:
                body = ix.segment_body[(segment, side)]
                ch[f"{segment}_{side}_pos_m"][i] = data.xpos[body]
                rot = data.xmat[body]  # row-major 3x3; a pure rotation about y in this plane
                ch[f"{segment}_{side}_angle_rad"][i] = -np.arctan2(rot[2], rot[0])
        for side, force in foot_forces(data, ix).items():
            ch[C.grf_channel(side)][i] = force
        for side, cop in centres_of_pressure(data, ix).items():
            ch[f"cop_{side}_m"][i] = cop
        ch["pelvis_pos_m"][i] = data.xpos[ix.pelvis_body]
        ch["pelvis_pitch_rad"][i] = ch["trunk_pitch_rad"][i] = data.qpos[ix.qpos["pelvis_pitch"]]
        ch["trunk_pitch_rate_rad_s"][i] = data.qvel[ix.dof["pelvis_pitch"]]
        mujoco.mj_subtreeVel(m, data)
        ch["com_pos_m"][i] = data.subtree_com[0]
        ch["com_vel_m_s"][i] = data.subtree_linvel[0]
        ch["muscle_excitation"][i] = data.ctrl
        ch["muscle_activation"][i] = data.act
        ch["muscle_length_m"][i] = data.actuator_length
        ch["muscle_velocity_m_s"][i] = data.actuator_velocity
        ch["muscle_force_n"][i] = -data.actuator_force
        self._n += 1

    def finish(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The recorded samples (trimmed to what was recorded)."""
        n = self._n
        return self.time_s[:n].copy(), {k: v[:n].copy() for k, v in self.channels.items()}

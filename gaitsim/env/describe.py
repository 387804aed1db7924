"""An environment's specification as tables, generated from its file (``gaitsim envs ID``), so
the documentation of an id can never drift from what it does."""

from __future__ import annotations

from gaitsim.control.features import RATE_SCALE
from gaitsim.env.config import EnvConfig
from gaitsim.env.core import env_setup
from gaitsim.sim.device import device_layout

_SCALE = {
    "motor_torque_nm": "/ motor peak torque",
    "foot_load_n": "/ body weight",
    "emg": "fraction of maximum",
}

_TERMS = {
    "alive": "+ w x dt while walking",
    "speed": "- w x (v - target)^2 x dt, v forward pelvis speed over the ground (m/s)",
    "effort": "- w x muscle activation heat (W/kg, Umberger 2003) x dt",
    "interaction": "- w x sum of squared cuff torques (N^2 m^2) x dt",
    "smoothness": "- w x sum of squared action changes",
    "symmetry": "- w x abs(step length - other side's last) / leg length, per step",
    "obstacle": "- w per projected obstacle a loaded foot first touches (on a course)",
    "fall": "- w once, on a fall or blow-up (instead of the walking terms)",
}


def describe(config: EnvConfig) -> str:
    """Markdown tables: observation, action, reward, episode end, randomisation."""
    setup = env_setup(config)
    device = setup.built.device
    assert device is not None
    n_emg = len(setup.built.muscle_names) if setup.scenario.device.sensing.emg else 0
    sizes = dict(device_layout(device.size, n_emg))
    modules = ", ".join(f"{side} {joint}" for side, joint in device.modules)
    lines = [
        f"# {config.id}",
        "",
        config.description,
        "",
        f"Scenario `{config.scenario}`; one step = one device tick "
        f"({setup.scenario.device.rate_hz:g} Hz); episodes of {config.episode_s:g} s.",
        "",
        f"## Observation: {setup.observation_space.shape[0]} values "
        f"({config.observation.history} ticks, newest first)",
        "",
        "| signal | size | scale |",
        "|---|---|---|",
    ]
    for s in config.observation.sensors:
        scale = _SCALE.get(s, f"x {RATE_SCALE:g}" if s.endswith("_rad_s") else "as measured")
        lines.append(f"| `{s}` | {sizes[s]} | {scale} |")
    if config.observation.privileged:
        names = ", ".join(f"`{p}`" for p in config.observation.privileged)
        lines += ["", f'Privileged (critics, `info["privileged"]`, SI): {names}.']
    lines += [
        "",
        f"## Action: {device.size} values in [-1, 1]",
        "",
        f"Torque per module ({modules}) = action x {config.action_scale_nm:g} N m, within each "
        "motor's torque-speed envelope.",
        "",
        "## Reward per step",
        "",
        "| term | weight | definition |",
        "|---|---|---|",
    ]
    w = config.reward
    for term, text in _TERMS.items():
        weight = getattr(w, term)
        if weight:
            text = text.replace("target", f"{w.target_speed_m_s:g}")
            lines.append(f"| {term} | {weight:g} | {text} |")
    r = config.randomization

    def drawn(name: str, nominal: float, unit: str) -> str:
        bounds = getattr(r, name)
        if bounds is None:
            return f"{nominal:.4g} {unit}".strip()
        return f"uniform in [{bounds[0]:g}, {bounds[1]:g}] {unit}".strip()

    lines += [
        "",
        "## Episode end",
        "",
        "terminated: fall, numerical_instability, mujoco_warning or controller_error; "
        f'truncated: time_limit ({config.episode_s:g} s) (`info["termination_reason"]`).',
        "",
        "## Start and randomisation (per episode)",
        "",
        f"- height: {drawn('height_m', setup.built.height_m, 'm')}; "
        f"mass: {drawn('mass_kg', setup.built.mass_kg, 'kg')}",
        f"- cuff stiffness: x {drawn('cuff_stiffness_scale', 1.0, '')}; sensor noise: "
        f"x {drawn('sensor_noise_scale', 1.0, '')}; sensor latency: "
        f"{drawn('sensor_latency_s', setup.scenario.device.sensing.latency_s, 's')}",
        "- course: drawn anew from the scenario's generator with a seed per episode"
        if r.course
        else "- course: the scenario's own",
        f"- initial gait state perturbed: angles {r.initial_angle_noise_rad:g} rad, "
        f"speed {r.initial_speed_noise_m_s:g} m/s (std)",
    ]
    return "\n".join(lines)

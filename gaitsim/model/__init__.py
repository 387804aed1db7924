"""Model assembly with mujoco.MjSpec: the patient's body, impairment, (later) devices, courses."""

from gaitsim.model.assemble import BuiltModel, build_model, build_scenario

__all__ = ["BuiltModel", "build_model", "build_scenario"]

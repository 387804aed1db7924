"""The controller interface shared by the patient's neural controller and device controllers."""

from gaitsim.control.interface import Controller, jit_controller

__all__ = ["Controller", "jit_controller"]

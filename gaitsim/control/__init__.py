"""The controller interface shared by the patient's neural controller and device controllers."""

from gaitsim.control.interface import Controller
from gaitsim.control.loop import LoopController, compile_for_loop

__all__ = ["Controller", "LoopController", "compile_for_loop"]

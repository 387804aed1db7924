"""The path from a controller to the physical robot (DESIGN: "Where sim and robot meet").

Built so far: the MIT-mode CAN protocol of AK-series actuators (:mod:`~gaitsim.hardware.mit`),
its host side on a python-can bus (:mod:`~gaitsim.hardware.can_motors`), a driver emulator
that follows the protocol (:mod:`~gaitsim.hardware.emulator`), and the safety layer
(:mod:`~gaitsim.hardware.safety`). The adapter interface, the real-time loop, the twin server,
logging and ``gaitsim hw`` are still to come.
"""

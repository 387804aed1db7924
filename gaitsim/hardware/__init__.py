"""The path from a controller to the physical robot (DESIGN: "Where sim and robot meet").

Built so far: the MIT-mode CAN protocol of AK-series actuators (:mod:`~gaitsim.hardware.mit`),
its host side on a python-can bus (:mod:`~gaitsim.hardware.can_motors`), a driver emulator
that follows the protocol (:mod:`~gaitsim.hardware.emulator`), the safety layer
(:mod:`~gaitsim.hardware.safety`), the hardware interface with its in-process simulation
backend (:mod:`~gaitsim.hardware.interface`) and the fixed-rate control loop
(:mod:`~gaitsim.hardware.loop`). Still to come: the twin server and its UDP protocol, the CAN
adapter over :class:`~gaitsim.hardware.can_motors.MitBus`, MCAP logging and replay, and
``gaitsim hw``.
"""

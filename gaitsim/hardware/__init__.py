"""The path from a controller to the physical robot (DESIGN: "Where sim and robot meet").

The MIT-mode CAN protocol of AK-series actuators (:mod:`~gaitsim.hardware.mit`), its host
side on a python-can bus (:mod:`~gaitsim.hardware.can_motors`), a driver emulator that
follows the protocol (:mod:`~gaitsim.hardware.emulator`), the safety layer
(:mod:`~gaitsim.hardware.safety`, also in every simulated device), the hardware interface
with its in-process simulation backend (:mod:`~gaitsim.hardware.interface`), the twin server
and its UDP protocol (:mod:`~gaitsim.hardware.twin`), the CAN adapter
(:mod:`~gaitsim.hardware.can_adapter`), the fixed-rate control loop
(:mod:`~gaitsim.hardware.loop`) with its real-time thread settings
(:mod:`~gaitsim.hardware.realtime`), MCAP logs (:mod:`~gaitsim.hardware.log`), replays
(:mod:`~gaitsim.hardware.replay`) and the ``gaitsim twin``, ``hw`` and ``replay`` commands
(:mod:`~gaitsim.hardware.commands`).
"""

"""The patient's neural controllers (muscle excitations from muscle-level observations)."""

from __future__ import annotations

from gaitsim.control.interface import Controller
from gaitsim.neural.simple import constant_excitation, simple_controller
from gaitsim.spec import Scenario

__all__ = ["constant_excitation", "patient_controller"]


def patient_controller(scenario: Scenario, n_muscles: int) -> tuple[Controller, dict | None]:
    """The scenario's patient controller and, for gait, its initial state (None: standing)."""
    spec = scenario.controller
    if spec.kind != "reflex":
        return simple_controller(spec, n_muscles), None
    from gaitsim.neural import controller as rc
    from gaitsim.neural.parameters import mapping_from_vector

    reflex_lr, initial, _ = rc.load_parameter_file(rc.resolve_parameter_file(spec.parameters))
    if spec.mirror:
        reflex_lr, initial = rc.mirror(reflex_lr, initial)
    ctrl = rc.reflex_controller(scenario.patient, reflex_lr, spec.rate_hz)
    return ctrl, mapping_from_vector(rc.INITIAL_STATE, initial)

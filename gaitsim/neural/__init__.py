"""The patient's neural controllers (muscle excitations from muscle-level observations)."""

from gaitsim.neural.simple import constant_excitation, patient_controller

__all__ = ["constant_excitation", "patient_controller"]

"""Energetics: Umberger 2003 metabolic rate from the recorded muscle states."""

from __future__ import annotations

import numpy as np
import pytest

from gaitsim import spec
from gaitsim.metrics import summarize
from gaitsim.metrics.energy import BASAL_W_KG, SLOW_TWITCH, metabolics, muscle_states
from gaitsim.sim.simulation import simulate
from gaitsim.sim.trace import Trace


def _standing(excitation: float, duration_s: float = 1.5) -> Trace:
    return simulate(
        spec.from_dict(
            {
                "controller": {"kind": "constant", "excitation": excitation},
                "run": {"duration_s": duration_s},
            }
        )
    )


def test_more_activation_costs_more_energy():
    low, high = (metabolics(_standing(e), None) for e in (0.05, 0.3))
    assert low["net_w_kg"] > 0
    assert high["net_w_kg"] > 2 * low["net_w_kg"]
    assert high["gross_w_kg"] == pytest.approx(high["net_w_kg"] + BASAL_W_KG)
    assert set(high["per_muscle_w"]) == set(_standing(0.05, 0.1).meta["muscle_names"])


def test_muscle_states_are_mujocos():
    trace = _standing(0.2)
    s = muscle_states(trace)
    # the active force is MuJoCo's: with the passive force it makes the recorded tension
    passive = np.asarray(trace["muscle_force_n"]) - s["active_force_n"]
    assert np.all(passive > -1e-6)
    assert np.all((s["f_iso"] > 0) & (s["f_iso"] <= 1.0 + 1e-9))
    # muscle mass (Fmax / 0.25 MPa) * 1059.7 kg/m^3 * lopt: vasti of a 75 kg, 1.75 m person
    vas = trace.meta["muscle_names"].index("left_vas")
    assert 1.0 < s["mass_kg"][vas] < 2.5


def test_summary_reports_energy_and_the_cost_of_transport():
    sc = spec.from_dict(
        {
            "controller": {"kind": "reflex", "parameters": "healthy.json"},
            "run": {"duration_s": 4.0},
        }
    )
    d = summarize(simulate(sc)).to_dict()
    met = d["metabolic"]
    assert met["cost_of_transport_j_kg_m"] == pytest.approx(met["net_w_kg"] / d["speed_m_s"])
    assert d["device"] is None


def test_every_muscle_has_a_fibre_type():
    assert set(SLOW_TWITCH) == {"gmax", "hams", "ilpso", "rf", "vas", "bfsh", "gas", "sol", "ta"}
    assert all(0 < f < 1 for f in SLOW_TWITCH.values())

"""Simulation: stepping the model, calling controllers at their rates, sensing, the Trace."""

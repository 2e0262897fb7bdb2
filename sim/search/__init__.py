"""Optimizers that call the simulator in a loop: sweeps, POMT, PIVOT, OPTIN."""

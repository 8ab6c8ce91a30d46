"""Item response theory: models, marginal-maximum-likelihood item calibration and person scoring.

The numerical core of sathach. It takes and returns arrays and frozen dataclasses, imports nothing
else of the project and does no I/O.
"""

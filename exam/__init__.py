"""The computer-adaptive test engine: item pools, selection, exposure and content control,
stopping and classification rules, blueprints and a simulator.

Pure numerics on top of :mod:`calibration`; no database, web framework or I/O.
"""

"""The persistent item bank of the national digital-skill standard: competency frameworks,
courses, items and their versions, lifecycle, IRT parameter sets, import and export.
"""

"""Exam delivery: exam definitions, sessions and responses, topic progress and certificates.

The tables are in :mod:`webapp.exams.models`; the use cases the learner pages, the JSON API and
the commands call are in :mod:`webapp.exams.services`.
"""

"""The Flask application that delivers exams and hosts the learner, psychometrician, manager and
admin workspaces, its JSON API and the ``sathach`` command line."""

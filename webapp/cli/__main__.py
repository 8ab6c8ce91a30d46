"""``python -m webapp.cli``: the ``sathach`` command line."""

from webapp.cli import main

main(prog_name="sathach")

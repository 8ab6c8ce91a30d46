"""Subcommands of ``sathach``: one module per command, each exposing a click command ``cli``."""

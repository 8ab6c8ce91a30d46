"""The ``sathach`` command line.

Every module of :mod:`webapp.cli.commands` that defines a click command named ``cli`` becomes a
subcommand, so each feature owns its command in its own file.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from webapp.cli import commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sathach")
def main() -> None:
    """sathach: adaptive assessment and certification of digital skills."""


def _register_commands(group: click.Group) -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        command = getattr(module, "cli", None)
        if isinstance(command, click.Command):
            group.add_command(command)


_register_commands(main)

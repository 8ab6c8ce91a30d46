"""The import direction of the house: lower layers never load higher ones or foreign frameworks.

Each package is imported in a fresh interpreter, so what one test imports cannot hide what
another package pulls in.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = {
    "calibration": {"exam", "item_bank", "reports", "webapp", "sqlalchemy", "flask", "matplotlib"},
    "exam": {"item_bank", "reports", "webapp", "sqlalchemy", "flask", "matplotlib"},
    "item_bank": {"reports", "webapp", "flask", "matplotlib"},
    "reports": {"item_bank", "webapp", "flask", "sqlalchemy"},
}

PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if ".migrations" in info.name:
        continue
    importlib.import_module(info.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_and_all_its_modules_leave_higher_layers_unloaded(package: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, package], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    loaded = set(__import__("json").loads(completed.stdout))
    assert package in loaded
    assert not (loaded & FORBIDDEN[package]), (
        f"importing {package} loaded {sorted(loaded & FORBIDDEN[package])}"
    )


SHARED_FOLDER = "/".join(("..", "shared"))  # spelled so that this guard does not match itself


def test_nothing_reads_the_shared_folder_outside_the_repo() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(root))
        for folder in ("calibration", "exam", "item_bank", "reports", "webapp", "tests", ".ci")
        for path in (root / folder).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ""}
        and path.name != "test_architecture.py"
        and SHARED_FOLDER in path.read_text(encoding="utf-8", errors="ignore")
    ]
    assert offenders == []

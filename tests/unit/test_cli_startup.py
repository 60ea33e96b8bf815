"""`abacus --help` and the commands that need no provider start without importing the providers; the names the
help texts list are the registry's."""

from __future__ import annotations

import subprocess
import sys

from abacus.providers import registry
from abacus.providers.names import PROVIDER_NAMES


def test_the_help_names_are_the_registry_names_in_its_order() -> None:
    assert PROVIDER_NAMES == registry.NAMES


def test_importing_the_cli_loads_no_provider_module() -> None:
    probe = (
        "import sys, abacus.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('abacus.providers.') and m != 'abacus.providers.names'))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout

"""arq entry point: `arq worker.WorkerSettings` from the project root (or `abacus worker`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from abacus.worker.settings import WorkerSettings

__all__ = ["WorkerSettings"]

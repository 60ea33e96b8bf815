"""Name of the arq queue shared by the web app, the CLI and the worker."""

import os

QUEUE_NAME = os.environ.get("ABACUS_QUEUE", "abacus:queue")

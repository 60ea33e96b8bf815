"""The registered providers' names, importable without importing the providers themselves.

The CLI names them in its help texts, which are built when it starts; importing every provider module (and what they
import) only for that cost `abacus --help` over a second. `abacus.providers.registry` checks at import that this
tuple is its own list of names, in its order, so the two cannot drift apart.
"""

from __future__ import annotations

PROVIDER_NAMES: tuple[str, ...] = ("anthropic", "cursor", "github", "copilot")

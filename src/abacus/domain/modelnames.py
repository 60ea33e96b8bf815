"""Model names: write-time normalisation (docs/providers.md §1.1) and the one display format (docs/metrics.md §3.1)."""

from __future__ import annotations

import re

MODEL_DEFAULT = "(default)"
"""The magic model name for `default` / `auto` / `unknown` selections."""

_DEFAULT_ALIASES = frozenset({"", "default", "auto", "unknown"})

# Step 3: one trailing "(…)" or "[…]" suffix, e.g. "(T)", "(HT)", "(Thinking)", "[1m]".
_TRAILING_SUFFIX = re.compile(r"\s*(?:\(([^)]+)\)|\[([^\]]+)\])\s*$")

# Steps 4–11 (+ the contract's undated Claude ids): only the first matching rule applies.
# Each rule is (pattern, output template using the pattern's named groups).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^claude-(?P<major>\d+)-(?P<minor>\d+)-(?P<family>[a-z]+)-\d{8}$"), "{family}-{major}.{minor}"),
    (re.compile(r"^claude-(?P<family>[a-z]+)-(?P<major>\d+)-\d{8}$"), "{family}-{major}"),
    (re.compile(r"^claude-(?P<family>[a-z]+)-(?P<major>\d+)-(?P<minor>\d+)-\d{8}$"), "{family}-{major}.{minor}"),
    (re.compile(r"^(?P<major>\d+)-(?P<minor>\d+)-(?P<family>[a-z]+)-\d{8}$"), "{family}-{major}.{minor}"),
    (re.compile(r"^claude-(?P<version>\d+(?:\.\d+)?)-(?P<family>[a-z]+)-high-thinking$"), "{family}-{version}"),
    (re.compile(r"^claude-(?P<version>\d+(?:\.\d+)?)-(?P<family>[a-z]+)-thinking$"), "{family}-{version}"),
    (re.compile(r"^claude-(?P<version>\d+(?:\.\d+)?)-(?P<family>[a-z]+)$"), "{family}-{version}"),
    (re.compile(r"^(?P<version>\d+(?:\.\d+)?)-(?P<family>[a-z]+)$"), "{family}-{version}"),
    # (new) undated ids the reference misses: claude-sonnet-4-5 → sonnet-4.5, claude-sonnet-4 → sonnet-4.
    (re.compile(r"^claude-(?P<family>[a-z]+)-(?P<major>\d+)-(?P<minor>\d+)$"), "{family}-{major}.{minor}"),
    (re.compile(r"^claude-(?P<family>[a-z]+)-(?P<major>\d+)$"), "{family}-{major}"),
)

# Step 12: a bare version number is a Sonnet (Cursor's short names "4", "3.7").
_BARE_VERSION = re.compile(r"^\d+(\.\d+)?$")

THINKING_SUFFIX = r"( \((T|HT)\)|-thinking|-high-thinking)\Z"
"""docs/metrics.md §4.1 hasThinkingModels: raw model ending " (T)", " (HT)", "-thinking" or "-high-thinking", any case.
One pattern for both sides: Python matches it with re.IGNORECASE, the rollup refresh with PostgreSQL's `~*`
(its end-of-string anchor means the same in both dialects, unlike `$`)."""
_THINKING = re.compile(THINKING_SUFFIX, re.IGNORECASE)

_DISPLAY_THINKING = re.compile(r"\s*\(T\)\s*$")
_DISPLAY_FAMILY = re.compile(r"^(sonnet|opus|haiku)-(\d+(?:\.\d+)?)", re.IGNORECASE)


def normalize_model_name(raw: str | None) -> str:
    """Return the normalised model used for grouping; a pure function of `raw_model`, so rows can be re-normalised.

    `None` is treated as `unknown` (→ `(default)`), as the Anthropic path stores `raw_model or "unknown"`.
    """
    if raw is None:
        return MODEL_DEFAULT
    if raw == "":
        return raw
    name = raw.strip().lower()
    if name in _DEFAULT_ALIASES or name == MODEL_DEFAULT:
        return MODEL_DEFAULT
    name = _TRAILING_SUFFIX.sub("", name, count=1)
    for pattern, template in _RULES:
        match = pattern.match(name)
        if match:
            name = template.format(**match.groupdict())
            break
    if _BARE_VERSION.match(name):
        name = f"sonnet-{name}"
    return name


def display_model_name(model: str) -> str:
    """Return the human label of a (normalised) model: `sonnet-4.5` → "Sonnet 4.5", `x (T)` → "x (Thinking)"."""
    if not model or model == MODEL_DEFAULT:
        return model
    suffix = ""
    if _DISPLAY_THINKING.search(model):
        model = _DISPLAY_THINKING.sub("", model)
        suffix = " (Thinking)"
    model = model.removeprefix("claude-")
    match = _DISPLAY_FAMILY.match(model)
    if match:
        family, version = match.groups()
        model = f"{family.capitalize()} {version}{model[match.end() :]}"
    return model + suffix


def is_thinking_model(raw_model: str | None) -> bool:
    """True when the provider's raw model names a thinking variant (docs/metrics.md §4.1 hasThinkingModels)."""
    return bool(raw_model and _THINKING.search(raw_model))

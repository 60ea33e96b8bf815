"""Tool keys, display names and the colours charts and split bars use for tools and models."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

CLAUDE_CODE = "claude_code"
CURSOR = "cursor"
GITHUB_COPILOT = "github_copilot"
CODEX = "codex"
WINDSURF = "windsurf"

KNOWN_TOOLS: tuple[str, ...] = (CLAUDE_CODE, CURSOR, GITHUB_COPILOT, CODEX, WINDSURF)

TOOL_NAMES: dict[str, str] = {
    CLAUDE_CODE: "Claude Code",
    CURSOR: "Cursor",
    GITHUB_COPILOT: "Copilot",
    CODEX: "Codex",
    WINDSURF: "Windsurf",
}

# Hex colours usable as SVG fills; the same hue family everywhere a tool appears.
TOOL_COLORS: dict[str, str] = {
    CLAUDE_CODE: "#f59e0b",  # amber
    CURSOR: "#06b6d4",  # cyan
    GITHUB_COPILOT: "#8b5cf6",  # violet
    CODEX: "#10b981",  # emerald
    WINDSURF: "#0284c7",  # sky (darker than Cursor's cyan so the two stay apart)
}

# Unknown tools get a grey picked from their name, so a tool keeps its shade across pages and restarts.
UNKNOWN_TOOL_GREYS: tuple[str, ...] = (
    "#64748b",  # slate
    "#6b7280",  # gray
    "#71717a",  # zinc
    "#737373",  # neutral
    "#78716c",  # stone
    "#94a3b8",  # light slate
    "#9ca3af",  # light gray
    "#a8a29e",  # light stone
)

HUMAN_NAME = "Human"
HUMAN_COLOR = "#d4d4d8"
TOTAL_COLOR = "#cbd5e1"
"""Series that add up every tool (e.g. a person's tokens by weekday): a neutral light slate, so that no tool's colour
ever stands for "all tools"."""

# Model colours by rank in a chart (top model first): hues no tool uses, so amber always means Claude Code and never
# "the top model" (tests/unit/test_chart_colors.py keeps every model hue at least 20° from every tool hue).
MODEL_PALETTE: tuple[str, ...] = (
    "#ec4899",  # pink
    "#84cc16",  # lime
    "#ef4444",  # red
    "#d946ef",  # fuchsia
    "#2563eb",  # blue
    "#fda4af",  # light rose
    "#bef264",  # light lime
)

_CSS_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_WORD_START = re.compile(r"\b\w")


@dataclass(frozen=True)
class ToolStyle:
    key: str
    name: str
    css_class: str
    color: str


def tool_name(tool: str) -> str:
    """Display name of a tool key; unknown keys are title-cased (`aider` → "Aider", `open_code` → "Open Code")."""
    if tool in TOOL_NAMES:
        return TOOL_NAMES[tool]
    return _WORD_START.sub(lambda m: m.group(0).upper(), tool.replace("_", " "))


def tool_css_class(tool: str) -> str:
    """CSS class of a tool, e.g. `tool-claude_code`; characters unsafe in a class name become `-`."""
    return "tool-" + _CSS_UNSAFE.sub("-", tool.lower())


def tool_color(tool: str) -> str:
    """Hex colour of a tool; unknown tools get a deterministic grey."""
    if tool in TOOL_COLORS:
        return TOOL_COLORS[tool]
    digest = hashlib.sha256(tool.encode("utf-8")).digest()
    return UNKNOWN_TOOL_GREYS[digest[0] % len(UNKNOWN_TOOL_GREYS)]


def tool_style(tool: str) -> ToolStyle:
    """Everything a template needs to draw a tool: key, display name, CSS class, colour."""
    return ToolStyle(key=tool, name=tool_name(tool), css_class=tool_css_class(tool), color=tool_color(tool))


def model_color(rank: int) -> str:
    """Colour of the model at `rank` (0 = most tokens) in a chart; the palette repeats after its end."""
    return MODEL_PALETTE[rank % len(MODEL_PALETTE)]

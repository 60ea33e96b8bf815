"""AI attribution of commits (docs/providers.md §4.7) and the author checks around it (§4.5, §4.6)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

CO_AUTHOR = "co_author"
MESSAGE_PATTERN = "message_pattern"
AUTHOR_FIELD = "author_field"

Subject = Literal["message", "author", "author_name"]
"""What a rule's regex is tested against: the full message, `"<author name> <author email>"`, or the name alone."""


@dataclass(frozen=True)
class Attribution:
    tool: str
    model: str | None
    source: str
    confidence: str = "detected"


class AttributionRule(NamedTuple):
    tool: str
    regex: re.Pattern[str]
    source: str
    model_group: int | None = None
    subject: Subject = "message"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_VERB = r"(?:generated|written|created|assisted) (?:with|using|by)"

# Patterns 1–18 and A1, exactly as the reference recognises them; order decides the primary tool.
ATTRIBUTION_RULES: tuple[AttributionRule, ...] = (
    AttributionRule("claude_code", _rx(r"Co-Authored-By:\s+Claude\b([^<]*)<[^>]+@anthropic\.com>"), CO_AUTHOR, 1),
    AttributionRule("claude_code", _rx(r"Generated with \[Claude Code\]"), MESSAGE_PATTERN),
    AttributionRule("claude_code", _rx(rf"{_VERB} Claude\b"), MESSAGE_PATTERN),
    AttributionRule("codex", _rx(r"Co-Authored-By:\s+Codex\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("codex", _rx(rf"{_VERB} Codex\b"), MESSAGE_PATTERN),
    AttributionRule("codex", _rx(r"\bCodex (?:assisted|generated|helped)"), MESSAGE_PATTERN),
    AttributionRule("github_copilot", _rx(r"Co-Authored-By:\s+GitHub Copilot\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("github_copilot", _rx(r"Co-Authored-By:\s+Copilot\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("github_copilot", _rx(rf"{_VERB} (?:GitHub )?Copilot\b"), MESSAGE_PATTERN),
    AttributionRule(
        "github_copilot", _rx(r"\b(?:GitHub )?Copilot (?:assisted|generated|helped|suggestion)"), MESSAGE_PATTERN
    ),
    AttributionRule("github_copilot", _rx(r"\bAccepted (?:GitHub )?Copilot suggestion"), MESSAGE_PATTERN),
    AttributionRule("cursor", _rx(r"Co-Authored-By:\s+Cursor\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("cursor", _rx(rf"{_VERB} Cursor\b"), MESSAGE_PATTERN),
    AttributionRule("cursor", _rx(r"\bCursor (?:AI )?(?:assisted|generated|helped|completion)"), MESSAGE_PATTERN),
    AttributionRule("windsurf", _rx(r"Co-Authored-By:\s+Windsurf\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("windsurf", _rx(r"Co-Authored-By:\s+Codeium\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("windsurf", _rx(rf"{_VERB} (?:Windsurf|Codeium)\b"), MESSAGE_PATTERN),
    AttributionRule("windsurf", _rx(r"\b(?:Windsurf|Codeium) (?:AI )?(?:assisted|generated|helped)"), MESSAGE_PATTERN),
    AttributionRule("github_copilot", _rx(r"copilot-swe-agent\[bot\]"), AUTHOR_FIELD, subject="author"),
)

# Suggested additions (new), off by default until reviewed; evaluated after the reference rules.
EXTRA_ATTRIBUTION_RULES: tuple[AttributionRule, ...] = (
    AttributionRule("aider", _rx(r"Co-Authored-By:\s+aider\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("devin", _rx(r"Co-Authored-By:\s+\S[^<]*<[^>]*devin-ai-integration\[bot\][^>]*>"), CO_AUTHOR),
    AttributionRule("gemini", _rx(r"Co-Authored-By:\s+(?:Gemini|Jules)\b[^<]*<[^>]+>"), CO_AUTHOR),
    AttributionRule("aider", _rx(r" \(aider\)$"), AUTHOR_FIELD, subject="author_name"),
    AttributionRule("devin", _rx(r"devin-ai-integration\[bot\]"), AUTHOR_FIELD, subject="author"),
)

# Pattern 1's model: "(1M context)"-style suffixes are dropped (contract correction of the reference).
_MODEL_PAREN_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")
_WHITESPACE_RUN = re.compile(r"\s+")

_NOREPLY_USER = re.compile(r"^(\d+)\+[^@]+@users\.noreply\.github\.com$", re.IGNORECASE)


def _co_author_model(text: str) -> str | None:
    text = _MODEL_PAREN_SUFFIX.sub("", text.strip()).strip()
    model = _WHITESPACE_RUN.sub("-", text.lower())
    if not model or model == "code":
        return None
    return model


def attribute_commit(
    message: str,
    author_name: str = "",
    author_email: str = "",
    *,
    extra_patterns: bool = False,
) -> list[Attribution]:
    """Every AI tool the commit names, primary first; per tool only its first matching rule counts."""
    subjects: dict[str, str] = {
        "message": message or "",
        "author": f"{author_name or ''} {author_email or ''}",
        "author_name": author_name or "",
    }
    rules = ATTRIBUTION_RULES + EXTRA_ATTRIBUTION_RULES if extra_patterns else ATTRIBUTION_RULES
    found: list[Attribution] = []
    seen: set[str] = set()
    for rule in rules:
        if rule.tool in seen:
            continue
        match = rule.regex.search(subjects[rule.subject])
        if match is None:
            continue
        seen.add(rule.tool)
        model = _co_author_model(match.group(rule.model_group)) if rule.model_group is not None else None
        found.append(Attribution(tool=rule.tool, model=model, source=rule.source))
    return found


def is_merge_commit(parents: Sequence[object]) -> bool:
    """A merge commit has two or more parents (dropped on both the API and the webhook path)."""
    return len(parents) >= 2


def is_bot_author(login: str | None, author_type: str | None) -> bool:
    """True for GitHub bot accounts: a `[bot]` login or an author of type `Bot`."""
    if login and login.lower().endswith("[bot]"):
        return True
    return (author_type or "").lower() == "bot"


def noreply_user_id(email: str | None) -> int | None:
    """GitHub user id from a `<id>+<login>@users.noreply.github.com` address, else None."""
    if not email:
        return None
    match = _NOREPLY_USER.match(email.strip())
    return int(match.group(1)) if match else None


def is_work_email(email: str | None, allowed_domains: Sequence[str]) -> bool:
    """A real work email: not a noreply address and, when domains are configured, on one of them exactly."""
    if not email:
        return False
    address = email.strip().lower()
    if address.endswith("@users.noreply.github.com") or "noreply" in address:
        return False
    domains = {d.strip().lower().lstrip("@") for d in allowed_domains} - {""}
    if not domains:
        return True
    _, at, domain = address.rpartition("@")
    return bool(at) and domain in domains

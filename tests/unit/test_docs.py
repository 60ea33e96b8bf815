"""The documentation in docs/ stands on its own: what the code cites exists, and links lead somewhere.

(a) every metric id (`M-…`) used in `src/` and `templates/` has a heading in docs/metrics.md (a prefix such as
    `M-LIFE-*` needs at least one heading of that family);
(b) every `§` reference in `src/`, `templates/`, `migrations/` and `worker.py` names a file under docs/ on the same
    line, and that file has a heading carrying the section number; references to the old, external spec files
    (`spec/README.md`, bare `metrics.md`, …) are not allowed;
(c) every relative link in README.md and docs/*.md points at an existing file (and, for a `#fragment` into a
    Markdown file, at an existing heading).

Pure: reads files only. Each reference is its own parametrized case, named after where it occurs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
METRICS = DOCS / "metrics.md"
SCANNED = ("src", "templates", "migrations", "worker.py")
METRIC_SCANNED = ("src", "templates")
TEXT_SUFFIXES = {".py", ".html", ".mako", ".toml", ".md", ".txt", ".ini", ".cfg", ".css", ".js", ".json"}

# `M-` + an upper-case word, more `-WORD`s, and an optional trailing `-` (a family prefix such as `M-LIFE-*`).
# Not preceded by a letter, digit or hyphen, so `YYYY-MM-DD` and an SVG path's `0M-2` are not ids.
METRIC_ID = re.compile(r"(?<![A-Za-z0-9_-])M-[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*(?:-(?=\*))?")
# On one line: a docs file named by its path, or a section number.
SECTION_TOKEN = re.compile(r"(?<![\w/.-])docs/(?P<doc>[\w.-]+\.md)|§\s?(?P<section>\d+(?:\.\d+)*)")
# References to the spec outside the repository that must not survive.
EXTERNAL_SPEC = re.compile(r"(?<![\w/.-])(?:spec/[\w.-]+\.md|(?:metrics|pages|providers|schema|security|beyond)\.md)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`+[^`\n]*`+")


@dataclass(frozen=True)
class Occurrence:
    path: Path
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _files(roots: tuple[str, ...]) -> Iterator[Path]:
    for name in roots:
        base = ROOT / name
        candidates = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in candidates:
            if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
                continue
            if any(part.endswith(".egg-info") or part == "__pycache__" for part in path.parts):
                continue
            yield path


def _lines(roots: tuple[str, ...]) -> Iterator[Occurrence]:
    for path in _files(roots):
        for number, text in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            yield Occurrence(path, number, text)


def metric_ids(text: str) -> list[str]:
    return [match.group(0) for match in METRIC_ID.finditer(text)]


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (`§`, `.`, `—`, backticks), spaces → `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def headings(path: Path) -> tuple[str, ...]:
    return tuple(match.group(2) for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))))


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(path):
        base = slugify(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return frozenset(out)


def has_section_heading(path: Path, number: str) -> bool:
    """A heading that carries `§<number>` exactly (`§4` is not satisfied by `§4.1`, nor `§1` by `§12`)."""
    pattern = re.compile(rf"§\s?{re.escape(number)}(?!\d|\.\d)")
    return any(pattern.search(heading) for heading in headings(path))


# --- (a) metric ids -------------------------------------------------------------------------------------------


@cache
def used_metric_ids() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for occurrence in _lines(METRIC_SCANNED):
        for metric in metric_ids(occurrence.text):
            found.setdefault(metric, []).append(occurrence.where)
    return {metric: tuple(places) for metric, places in sorted(found.items())}


@cache
def defined_metric_ids() -> frozenset[str]:
    return frozenset(metric for heading in headings(METRICS) for metric in metric_ids(heading))


def test_metric_id_pattern() -> None:
    """The scanner finds ids and family prefixes, and ignores date formats and SVG paths."""
    text = 'YYYY-MM-DD; M-LIFE-* figures; M-TOKENS, (M-AVG-USER-TOKENS) <path d="M0 9 9 0M-2 4"/>'
    assert metric_ids(text) == ["M-LIFE-", "M-TOKENS", "M-AVG-USER-TOKENS"]


def test_code_uses_metric_ids() -> None:
    """Guards the scan itself: an empty scan would make every parametrized case below vanish."""
    assert {"M-TOKENS", "M-DD"} & set(used_metric_ids()) == {"M-TOKENS"}
    assert len(defined_metric_ids()) >= 30


@pytest.mark.parametrize("metric", list(used_metric_ids()))
def test_metric_id_is_documented(metric: str) -> None:
    places = ", ".join(used_metric_ids()[metric][:5])
    defined = defined_metric_ids()
    if metric.endswith("-"):
        assert any(d.startswith(metric) for d in defined), (
            f"{metric}* is used at {places} but no heading in docs/metrics.md defines an id of that family"
        )
    else:
        assert metric in defined, f"{metric} is used at {places} but has no heading in docs/metrics.md"


# --- (b) § references -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionRef:
    where: str
    doc: str | None
    section: str

    @property
    def label(self) -> str:
        # "section" rather than "§": pytest escapes non-ASCII characters in test ids
        return f"{self.where} {'docs/' + self.doc if self.doc else '(no docs file)'} section {self.section}"


def section_refs_in(line: str) -> list[tuple[str | None, str]]:
    """(docs file or None, section number) for every `§` on a line; a section belongs to the docs file named
    closest before it on the same line."""
    doc: str | None = None
    refs = []
    for match in SECTION_TOKEN.finditer(line):
        if match.group("doc"):
            doc = match.group("doc")
        else:
            refs.append((doc, match.group("section")))
    return refs


@cache
def section_refs() -> tuple[SectionRef, ...]:
    refs = []
    for occurrence in _lines(SCANNED):
        if "§" in occurrence.text:
            refs += [SectionRef(occurrence.where, doc, section) for doc, section in section_refs_in(occurrence.text)]
    return tuple(refs)


def test_section_ref_pattern() -> None:
    line = "(docs/metrics.md §0.4–§2, §4) and docs/pages.md §1.1; a bare §3"
    assert section_refs_in(line) == [
        ("metrics.md", "0.4"),
        ("metrics.md", "2"),
        ("metrics.md", "4"),
        ("pages.md", "1.1"),
        ("pages.md", "3"),
    ]
    assert section_refs_in("see §4.6 for the rules") == [(None, "4.6")]


def test_code_cites_sections() -> None:
    assert len(section_refs()) >= 20


@pytest.mark.parametrize("ref", section_refs(), ids=lambda ref: ref.label)
def test_section_reference_resolves(ref: SectionRef) -> None:
    assert ref.doc is not None, (
        f"{ref.where}: §{ref.section} does not say which document it means — write e.g. `docs/pages.md §{ref.section}`"
    )
    path = DOCS / ref.doc
    assert path.is_file(), f"{ref.where}: docs/{ref.doc} does not exist"
    assert has_section_heading(path, ref.section), f"{ref.where}: docs/{ref.doc} has no heading `§{ref.section}`"


def test_no_reference_to_the_external_spec() -> None:
    """The spec files outside the repository (`spec/README.md`, a bare `metrics.md`, …) are never cited."""
    stale = [
        f"{occurrence.where}: {match.group(0)}"
        for occurrence in _lines(SCANNED)
        for match in EXTERNAL_SPEC.finditer(occurrence.text)
    ]
    assert not stale, "cite docs/<file>.md instead of:\n" + "\n".join(stale)


@cache
def docs_paths_cited() -> tuple[tuple[str, str], ...]:
    return tuple(
        (occurrence.where, match.group("doc"))
        for occurrence in _lines(SCANNED)
        for match in SECTION_TOKEN.finditer(occurrence.text)
        if match.group("doc")
    )


@pytest.mark.parametrize(("where", "doc"), docs_paths_cited(), ids=lambda value: str(value))
def test_cited_docs_file_exists(where: str, doc: str) -> None:
    assert (DOCS / doc).is_file(), f"{where} cites docs/{doc}, which does not exist"


# --- (c) links --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str

    @property
    def label(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line} -> {self.target}"


def links_in(text: str) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link outside code blocks and code spans."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            out.append((number, match.group(1)))
    return out


@cache
def relative_links() -> tuple[Link, ...]:
    links = []
    for source in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for line, target in links_in(source.read_text(encoding="utf-8")):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
                continue  # http:, https:, mailto: …
            links.append(Link(source, line, target))
    return tuple(links)


def test_link_pattern() -> None:
    text = '[a](docs/x.md) `[not](a-link.md)` ![img](pic.png "t")\n```\n[code](ignored.md)\n```\n[b](#frag)'
    assert links_in(text) == [(1, "docs/x.md"), (1, "pic.png"), (5, "#frag")]


def test_docs_have_relative_links() -> None:
    assert any(link.target.startswith("docs/") for link in relative_links())


@pytest.mark.parametrize("link", relative_links(), ids=lambda link: link.label)
def test_relative_link_resolves(link: Link) -> None:
    path_part, _, fragment = link.target.partition("#")
    target = (link.source.parent / path_part).resolve() if path_part else link.source
    assert target.exists(), (
        f"{link.label}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} does not exist"
    )
    if fragment and target.is_file() and target.suffix == ".md":
        assert fragment in anchors(target), f"{link.label}: no heading with anchor #{fragment} in {target.name}"

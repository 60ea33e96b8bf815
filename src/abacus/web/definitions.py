"""What the numbers on the pages mean, in plain words: the /definitions page and the ⓘ links beside cards and
column headers (`/definitions#<id>`). Each entry's id is the metric's id in docs/metrics.md where it has one, so a
reader of the page and a reader of the docs talk about the same figure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Definition:
    id: str
    """The page anchor: an `M-…` id of docs/metrics.md, or a plain word for a concept without one."""
    name: str
    text: str
    unit: str
    example: str = ""


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "M-TOKENS",
        "Total tokens",
        "Every token the AI tools processed in the date range, for everyone and for usage no person is mapped to "
        "yet. A token count adds four kinds: input, output, cache reads and cache writes (see Token kinds).",
        "tokens",
        "600K from Claude Code, 300K from Cursor and 100K from an unmapped API key make 1.0M tokens.",
    ),
    Definition(
        "token-kinds",
        "Token kinds (input, output, cache read, cache write)",
        "Input tokens are the new text sent to the model; output tokens are what it wrote back. Cache writes are "
        "context stored for re-use, and cache reads are that stored context sent again: cheap per token, but a "
        "coding agent re-reads its context on every step, so cache reads are usually most of the total. The four "
        "kinds always add up to the total, in the Team table, team.csv and the API.",
        "tokens",
        "Input 10 + cache write 20 + cache read 300 + output 5 = 335 tokens.",
    ),
    Definition(
        "M-COST",
        "Estimated cost",
        "The dollar amount each provider reports with the usage: Anthropic's estimated cost, the cents Cursor "
        "reports per event, or the Cost column of an imported Cursor CSV. Abacus adds these up exactly and does not "
        "re-price anything. It is an estimate of list-price usage: discounts, commitments and seat fees on your "
        "invoice are not in it.",
        "US dollars",
        "$12.345 + $0.655 = $13.00.",
    ),
    Definition(
        "M-USERS",
        "Active users",
        "People (work emails) with any usage in the date range, of any tool. Someone who used two tools counts once. "
        "Usage not yet mapped to a person counts in the totals but never as a user.",
        "people",
        "Ana and Bob use Claude Code, Bob also uses Cursor → 2 active users.",
    ),
    Definition(
        "M-USERS-TOOL",
        "People per tool",
        "Active users counted for one tool only. A person using two tools is counted by both, so the tools' counts "
        'can add up to more than the number of active users; that is why each tool gets its own bar ("x of N '
        'people") instead of one bar split into shares.',
        "people",
        "Of 10 active users, 8 use Claude Code and 5 Cursor: 8 of 10 people and 5 of 10 people.",
    ),
    Definition(
        "M-TOOL-USERS-DAILY",
        "Active people by tool (chart)",
        "For each day (each week above 90 days) and tool, the number of different people who used that tool. The "
        "bars of one day stand side by side rather than stacked, because one person can be in two bars.",
        "people per day (or week)",
    ),
    Definition(
        "M-AVG-USER-TOKENS",
        "Average per user",
        "Tokens (or estimated cost) of mapped usage divided by the number of active users.",
        "tokens or US dollars per person",
        "9K mapped tokens over 3 active users → 3K per user.",
    ),
    Definition(
        "M-AVG-DAY",
        "Average per day",
        "Total tokens divided by the number of calendar days in the range; today counts as a whole day. In the Team "
        "table, Avg/Day divides a person's tokens by their days with usage instead.",
        "tokens per day",
        "1,000,000 tokens over 7 days → 143K tokens per day.",
    ),
    Definition(
        "M-TOOL-SHARE",
        "Tool shares",
        "The Tools card: each tool's share of the tokens (these add up to 100 %), each tool's people out of all "
        "active users (these may not), and each tool's share of the AI-attributed commits.",
        "percent",
    ),
    Definition(
        "M-PROJ",
        "Projected",
        "Providers report the last day or two late. On the daily chart, a day whose data is not complete yet is "
        "drawn with a hatched part: what that day is likely to reach, estimated from the hours passed or from the "
        "recent daily average. Projections are only drawn; no total, table or export includes them.",
        "tokens",
    ),
    Definition(
        "M-DATA-COMPLETE",
        "Data complete until",
        "The last day for which a provider has sent usage. Days after it are incomplete and may be projected.",
        "date (UTC)",
    ),
    Definition(
        "M-TREND",
        "Trend line",
        "A straight line fitted (least squares) through the bars as drawn, from the first day with usage; it shows "
        "the direction, not a forecast.",
        "tokens",
    ),
    Definition(
        "M-COMMITS",
        "Commits",
        "Commits pushed to the tracked GitHub repositories in the date range (by commit time, UTC).",
        "commits",
    ),
    Definition(
        "M-AI-COMMITS",
        "AI attributed",
        "A commit is AI attributed when it names an AI coding tool: a co-author trailer such as "
        "\"Co-Authored-By: Claude\", a tool's marker in the message, or a tool's agent as the author. Each such "
        "commit has one primary tool, so the tools' AI commits add up to the AI-attributed total. Commits written "
        "with AI help but carrying no such mark cannot be told apart and count as human.",
        "commits",
        "7 of 9 commits carry an AI co-author trailer → 7 AI-attributed commits.",
    ),
    Definition(
        "M-AI-RATE",
        "AI %",
        "AI-attributed commits divided by all commits in the range, as a whole percentage.",
        "percent of commits",
        "7 of 9 commits → 78 %.",
    ),
    Definition(
        "M-UNATTR",
        "Unattributed usage",
        "Usage whose API key, account or identity is not mapped to a work email yet. It counts in the totals but in "
        "no person's figures; map it on the Mappings page.",
        "tokens and US dollars",
    ),
    Definition(
        "M-LINES",
        "Lines added / removed",
        "Lines of code the AI tool wrote that the person kept, as the vendor reports them per day: Claude Code's "
        "lines changed, Cursor's accepted lines, Copilot's lines added and deleted.",
        "lines",
        "120 lines on Monday and 80 on Tuesday make 200 lines added for the range.",
    ),
    Definition(
        "M-ACCEPT",
        "Acceptance rate",
        "Accepted suggestions divided by suggestions shown (Claude Code edits accepted or rejected, Cursor tabs and "
        "applies, Copilot code generations). Shown as — when nothing was suggested.",
        "percent of suggestions",
        "40 accepted of 50 on one day and 50 of 50 on the next → 90 of 100 = 90.0 %.",
    ),
    Definition(
        "M-COST-1K-LINES",
        "Cost per 1k lines",
        "A tool's usage cost divided by the thousands of lines it added, for tools that report cost. No value when "
        "no line was added.",
        "US dollars per 1,000 lines",
        "$12.50 for 2,500 lines added → $5.00 per 1k lines.",
    ),
    Definition(
        "M-ACTIVE-DAYS",
        "Active days",
        "Days on which the vendor reports the person as active with the tool; for a group, each person-day counts "
        "once.",
        "days",
        "Two people active on the same 3 days → 6 active days.",
    ),
    Definition(
        "M-SEAT-PRICE",
        "Seats and their price",
        "A seat is a paid licence of one person for one tool (Cursor team members, Copilot seats, Claude Code seats "
        "when priced). Seats counts those held on the range's last day; the monthly price comes from the settings "
        "by plan.",
        "seats; US dollars a month",
        "An enterprise Copilot seat with prices business=19,enterprise=39 → $39.00 a month.",
    ),
    Definition(
        "M-SEAT-SINCE",
        "Seat since",
        "When the seat started: the vendor's own date where it gives one (Copilot's seat creation, Anthropic's "
        "added-at). Cursor's member list has no date, so a Cursor seat is dated from the sync that first listed it; "
        "the holder's earlier use still counts as use of that seat.",
        "date",
        "A Cursor member first listed by the sync of 3 Dec, using Cursor since 4 Nov → since 3 Dec.",
    ),
    Definition(
        "M-SEAT-LAST-ACTIVE",
        "Last active",
        "The latest of the vendor's own last-activity date, the person's last active day and their last day with "
        "usage of that tool, up to the range's end. Active 7d / 30d count the seats last active fewer than 7 / 30 "
        "days before the range's end.",
        "date",
        "Vendor says 3 Dec, activity until 5 Dec → last active 5 Dec.",
    ),
    Definition(
        "M-IDLE-SEAT",
        "Idle seat",
        "A seat whose holder has not used the tool for ABACUS_IDLE_DAYS days (30 by default) up to the range's end, "
        "or never used it. Idle days count from the last active day (or from the seat's start when never used).",
        "seats; days",
        "Range ending 10 Dec, last active 10 Nov → 30 idle days: idle.",
    ),
    Definition(
        "M-SEAT-COST",
        "Seat cost",
        "What the seats cost over the range: each day a seat was held costs its monthly price divided by the days of "
        "that calendar month.",
        "US dollars",
        "$19 a month held 11 Nov – 10 Dec → 20/30 × 19 + 10/31 × 19 = $18.80.",
    ),
    Definition(
        "M-IDLE-SPEND",
        "Idle spend",
        "The seat cost over the range of the seats that are idle at its end: what you pay for seats nobody uses. "
        "Idle / month is the monthly price of those seats.",
        "US dollars",
        "Three idle Cursor seats at $40 held all of a 30-day month → $120.00.",
    ),
    Definition(
        "M-COST-PER-ACTIVE",
        "Cost per active user",
        "A tool's seat cost plus its usage cost, divided by the people active with it in the range. No value when "
        "nobody was active.",
        "US dollars per person",
        "$400 of seats + $200 of usage, 12 people active → $50.00.",
    ),
    Definition(
        "M-ADOPTION",
        "Adoption",
        "People holding a seat of the tool at some point of the range who were active with it in the range, divided "
        "by all people holding a seat of it in the range. Shown as — when the tool has no seats.",
        "percent of seat holders",
        "10 people hold a Copilot seat, 7 of them used Copilot in the range → 70.0 %.",
    ),
    Definition(
        "M-PROVISIONAL",
        "Provisional",
        "A figure is provisional when any row it adds up comes from Claude Code's own live telemetry "
        "(OpenTelemetry) rather than the Anthropic Admin API's daily report. The Admin API's day replaces those rows "
        "when it arrives, so the figure can still change; people on a Pro/Max subscription, whom the Admin API never "
        "reports, stay on telemetry.",
        "yes or no, per figure",
        "Today's Claude Code cost sums telemetry rows until the Admin API reports today: provisional. Yesterday, "
        "reported, is not; a Cursor figure never is.",
    ),
    Definition(
        "records",
        "Records (Status page)",
        "How many usage records (or commits) a provider key's most recent sync run fetched and stored. It is not "
        "the key's total: a key whose last run found nothing new shows 0 while its earlier data is all there.",
        "records",
    ),
)

BY_ID: dict[str, Definition] = {d.id: d for d in DEFINITIONS}


def definition(key: str) -> Definition:
    """The entry for `key`; a KeyError names the missing id (templates link only to defined entries)."""
    return BY_ID[key]

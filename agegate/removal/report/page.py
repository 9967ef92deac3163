"""The report as one self-contained HTML page.

Everything the page shows is inline: the charts are SVG elements, the style
one `<style>` block, and no script, font, image or link leaves the file; a
Content-Security-Policy meta tag forbids any fetch, so a viewer opening it
off line sees the same page and no one learns that it was opened. Every
text from a store or a summary is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

import attrs

from . import charts
from .chain import ChainFacts
from .facts import FlagFacts, ReviewRun

__all__ = ["CSP", "Report", "render"]

# Nothing may be fetched (default-src covers scripts, images, fonts,
# frames and connections); only the inline style and the SVGs' style
# attributes apply. base-uri and form-action are outside default-src.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)
# The statuses a privacy officer acts on: drawn in the alert colour.
NEEDS_ACTION = ("open", "reappeared", "failed")
# ... and those where nothing is left to do.
DONE = ("verified", "removed", "dismissed", "cleared")
JURISDICTIONS_CHARTED = 20


@attrs.frozen
class Report:
    store: str
    made_at: str
    version: str
    flags: FlagFacts
    reviews: tuple[ReviewRun, ...]
    chain: ChainFacts


def render(report: Report) -> str:
    sections = [_headline(report)]
    if report.flags.total:
        sections += [
            _status(report.flags),
            _codes(report.flags),
            _places(report.flags),
            _months(report.flags),
            _delays(report.flags),
        ]
    else:
        sections.append(
            '<section><h2>Nothing to report</h2><p class="empty">The store holds no'
            " flag: no account has been found that calls for removal or a"
            " check.</p></section>"
        )
    sections += [_reviews(report.reviews), _receipts(report.chain), _about()]
    return _PAGE.format(
        csp=escape(CSP),
        style=_STYLE,
        store=escape(report.store),
        made=escape(report.made_at),
        version=escape(report.version),
        body="\n".join(sections),
    )


def _table(
    caption: str, head: Sequence[str], rows: Iterable[Sequence[object]], *, id: str
) -> str:
    cols = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{escape(str(row[0]))}</th>'
        + "".join(f'<td class="n">{escape(str(cell))}</td>' for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f'<table id="{id}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{cols}</tr></thead><tbody>{body}</tbody></table>"
    )


def _figure(svg: str, label: str) -> str:
    """A chart, and after it the tables it was drawn from: side by side
    on a wide screen, one under the other on a narrow one."""
    return (
        '<div class="pair"><figure>'
        f'<div class="chart" role="img" aria-label="{escape(label)}">'
        f"{svg}</div><figcaption>{escape(label)}</figcaption></figure>"
        '<div class="tables">'
    )


_END_PAIR = "</div></div>"


def _headline(report: Report) -> str:
    by_status = dict(report.flags.by_status)
    cards = [
        ("flags", report.flags.total, ""),
        ("open", by_status["open"], "alert" if by_status["open"] else ""),
        ("held", by_status["held"], "hold" if by_status["held"] else ""),
        ("failed", by_status["failed"], "alert" if by_status["failed"] else ""),
        (
            "reappeared",
            by_status["reappeared"],
            "alert" if by_status["reappeared"] else "",
        ),
        ("verified", by_status["verified"], "good"),
    ]
    shown = "".join(
        f'<div class="card {kind}"><span class="big">{count}</span>'
        f"<span>{escape(name)}</span></div>"
        for name, count, kind in cards
    )
    chain = report.chain
    return (
        f'<section class="cards" aria-label="at a glance">{shown}'
        f'<div class="card {chain.tone}">'
        f'<span class="big">{escape(chain.headline)}</span>'
        "<span>receipts</span></div></section>"
    )


def _status(flags: FlagFacts) -> str:
    present = [(name, count) for name, count in flags.by_status if count]
    colours = [_colour(name) for name, _ in present]
    svg = _coloured_bars(present, colours)
    return (
        "<section><h2>Where every flag stands</h2>"
        + _figure(
            svg,
            "Flags by status: red ones need a person, amber ones are on legal hold,"
            " green ones are done",
        )
        + _table(
            "Flags by status, every status of a removal's lifecycle",
            ("status", "flags"),
            flags.by_status,
            id="by-status",
        )
        + _END_PAIR
        + "</section>"
    )


def _colour(status: str) -> str:
    if status in NEEDS_ACTION:
        return charts.ALERT
    if status == "held":
        return charts.HOLD
    return charts.GOOD if status in DONE else charts.ACCENT


def _coloured_bars(rows: Sequence[tuple[str, int]], colours: Sequence[str]) -> str:
    """One bar per row, each its own colour (a series each, stacked on
    zeros), so the statuses that need action stand out."""
    labels = [name for name, _ in rows]
    series = [
        (name, [count if i == j else 0 for j in range(len(rows))], colour)
        for i, ((name, count), colour) in enumerate(zip(rows, colours, strict=True))
    ]
    svg: str = charts.bar_chart(
        labels, series, horizontal=True, legend=False, name="status"
    )
    return svg


def _codes(flags: FlagFacts) -> str:
    labels = [code for code, _ in flags.by_code]
    svg = charts.bar_chart(
        labels,
        [("flags", [c for _, c in flags.by_code], charts.ACCENT)],
        horizontal=True,
        name="codes",
    )
    return (
        "<section><h2>Why accounts were flagged</h2>"
        + _figure(svg, "Flags by code")
        + _table(
            "Flags by code (a flag with two codes counts under each)",
            ("code", "flags"),
            flags.by_code,
            id="by-code",
        )
        + _table(
            "Flags by where they were raised",
            ("source", "flags"),
            flags.by_source,
            id="by-source",
        )
        + _END_PAIR
        + "</section>"
    )


def _places(flags: FlagFacts) -> str:
    charted = flags.by_jurisdiction[:JURISDICTIONS_CHARTED]
    others = len(flags.by_jurisdiction) - len(charted)
    # The others are tabled, not summed into one bar that would dwarf the
    # rest and say nothing of where they are.
    label = "Flags by jurisdiction" + (
        f" (the {len(charted)} with the most; {others} more in the table)"
        if others
        else ""
    )
    svg = charts.bar_chart(
        [p for p, _ in charted],
        [("flags", [c for _, c in charted], charts.ACCENT)],
        horizontal=True,
        name="places",
    )
    return (
        "<section><h2>Where the accounts are</h2>"
        + _figure(svg, label)
        + _table(
            "Flags by jurisdiction, every one",
            ("jurisdiction", "flags"),
            flags.by_jurisdiction,
            id="by-jurisdiction",
        )
        + _END_PAIR
        + "</section>"
    )


def _months(flags: FlagFacts) -> str:
    months = [m for m, _, _ in flags.by_month]
    svg = charts.bar_chart(
        months,
        [
            ("removal", [r for _, r, _ in flags.by_month], charts.ACCENT),
            ("check", [v for _, _, v in flags.by_month], charts.SECOND),
        ],
        name="months",
    )
    return (
        "<section><h2>When minors were found</h2>"
        '<p class="note">A flag records when agegate found the account, not when'
        " its data was collected: the store holds no collection date (a review"
        " reads it, and keeps only the finding). So this is the month each flag"
        " was raised, which is on or after the month of collection.</p>"
        + _figure(
            svg, "Flags raised by month (UTC), calling for removal or for a check"
        )
        + _table(
            "Flags raised by month (UTC)",
            ("month", "removal", "check"),
            flags.by_month,
            id="by-month",
        )
        + _END_PAIR
        + "</section>"
    )


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _delays(flags: FlagFacts) -> str:
    waited = flags.to_verified
    if not waited.count:
        return (
            '<section><h2>How long removal took</h2><p class="empty">No removal'
            " has been verified yet.</p></section>"
        )
    labels = [label for label, _ in waited.buckets]
    svg = charts.bar_chart(
        labels,
        [("removals", [c for _, c in waited.buckets], charts.ACCENT)],
        value_label="verified removals",
        name="delays",
    )
    stats = _table(
        "Days from flag to verified removal",
        ("measure", "days"),
        (
            ("median", _days(waited.median_days)),
            ("90th percentile", _days(waited.p90_days)),
            ("longest", _days(waited.longest_days)),
        ),
        id="delay-stats",
    )
    return (
        "<section><h2>How long removal took</h2>"
        f'<p class="note">From the moment a flag was raised to the moment its'
        f" removal was verified in every target, for the {waited.count} verified"
        " flag(s).</p>"
        + _figure(svg, "Verified removals by time from flag to verification")
        + _table(
            "Verified removals by time taken",
            ("time taken", "removals"),
            waited.buckets,
            id="delays",
        )
        + stats
        + _END_PAIR
        + "</section>"
    )


def _reviews(reviews: Sequence[ReviewRun]) -> str:
    if not reviews:
        return (
            '<section><h2>Reviews</h2><p class="empty">No review summary was'
            " given (<code>--summary</code>).</p></section>"
        )
    rows = [
        (
            r.name,
            r.started,
            r.input,
            r.rows_read,
            r.rows_screened,
            r.rows_unreadable,
            r.accounts_flagged,
            "yes" if r.completed else "NO",
        )
        for r in reviews
    ]
    return (
        "<section><h2>Reviews</h2>"
        + _table(
            "The review runs given, from their summaries",
            (
                "summary",
                "started",
                "input",
                "rows read",
                "screened",
                "unreadable",
                "flagged",
                "completed",
            ),
            rows,
            id="reviews",
        )
        + "</section>"
    )


def _receipts(chain: ChainFacts) -> str:
    rows = chain.by_kind
    table = (
        _table("Receipts by kind", ("kind", "entries"), rows, id="receipts")
        if chain.given
        else ""
    )
    return (
        "<section><h2>Proof: the receipts</h2>"
        f'<p class="chain {chain.tone}" id="chain-status">{escape(chain.sentence)}</p>'
        + _head(chain)
        + table
        + "</section>"
    )


def _head(chain: ChainFacts) -> str:
    if chain.head is None:
        return ""
    return (
        '<p class="note">The digest of the newest receipt, to keep elsewhere (a'
        " ticket, a signed message): removing the newest entries leaves a chain"
        f' that still holds, so only this tells. <code id="chain-head">'
        f"{escape(chain.head)}</code></p>"
    )


def _about() -> str:
    return (
        '<section><h2>What this page holds</h2><p class="note">Counts and'
        " stable codes only: no account id, birthdate, name, e-mail address,"
        " phone number, reviewer or note. A code or jurisdiction that is not"
        " of the shape agegate writes is counted as (other), never shown. The"
        " page loads nothing from the network.</p></section>"
    )


_STYLE = """
:root {
  color-scheme:light;
  --ink:#1f2328;
  --muted:#57606a;
  --line:#d0d7de;
  --accent:#2457a6;
  --alert:#b3261e;
  --good:#1a7f37;
  --hold:#9a6700;
}
* {
  box-sizing:border-box;
}
body {
  margin:0;
  font:15px/1.5 system-ui,"Segoe UI",Roboto,Arial,sans-serif;
  color:var(--ink);
  background:#f6f8fa;
}
header {
  background:var(--accent);
  color:#fff;
  padding:24px 32px;
}
header h1 {
  margin:0 0 4px;
  font-size:24px;
}
header p {
  margin:0;
  opacity:.9;
}
main {
  max-width:960px;
  margin:0 auto;
  padding:16px 24px 48px;
}
section {
  background:#fff;
  border:1px solid var(--line);
  border-radius:8px;
  padding:16px 20px;
  margin:16px 0;
}
h2 {
  margin:0 0 8px;
  font-size:18px;
}
.cards {
  display:flex;
  flex-wrap:wrap;
  gap:12px;
  background:none;
  border:0;
  padding:0;
}
.card {
  flex:1 1 96px;
  background:#fff;
  border:1px solid var(--line);
  border-left:6px solid var(--accent);
  border-radius:8px;
  padding:10px 14px;
  display:flex;
  flex-direction:column;
}
.card.alert {
  border-left-color:var(--alert);
}
.card.hold {
  border-left-color:var(--hold);
}
.card.good {
  border-left-color:var(--good);
}
.card .big {
  font-size:26px;
  font-weight:700;
}
figure {
  margin:8px 0;
}
.pair {
  display:grid;
  grid-template-columns:minmax(0,3fr) minmax(0,2fr);
  gap:20px;
  align-items:start;
}
@media (max-width:760px) {
  .pair {
    grid-template-columns:1fr;
  }
}
.tables table {
  width:100%;
}
.tables {
  max-height:720px;
  overflow-y:auto;
}
@media print {
  .tables {
    max-height:none;
    overflow:visible;
  }
}
.chart svg {
  width:100%;
  height:auto;
}
figcaption {
  color:var(--muted);
  font-size:13px;
}
table {
  border-collapse:collapse;
  margin:12px 0;
  min-width:50%;
}
caption {
  text-align:left;
  font-weight:600;
  padding-bottom:4px;
}
th,td {
  border-bottom:1px solid var(--line);
  padding:4px 10px;
  text-align:left;
}
td.n {
  text-align:right;
  font-variant-numeric:tabular-nums;
}
thead th {
  background:#f6f8fa;
}
.note,.empty {
  color:var(--muted);
}
.chain {
  font-weight:600;
  padding:8px 12px;
  border-radius:6px;
  background:#f6f8fa;
}
.chain.good {
  color:var(--good);
}
.chain.alert {
  color:var(--alert);
}
code {
  font-family:ui-monospace,monospace;
}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Removal report: {store}</title>
<style>{style}</style>
</head>
<body>
<header><h1>Minors' data: what was found, what was removed</h1>
<p>Flag store <strong id="store">{store}</strong> &middot;
made <time id="made">{made}</time> &middot; agegate {version}</p></header>
<main>
{body}
</main>
</body>
</html>
"""

"""The sign-off report as an operator shows it: text for the terminal, and a self-contained HTML
page (inline CSS, nothing fetched) to hand over or project in the sign-off demo."""

from datetime import datetime

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from leads.ops.signoff.checks import FAIL, PASS, READY

TEMPLATE = "leads/signoff.html"


def _generated(report: dict) -> str:
    return f"{datetime.fromisoformat(report['generated_at']):%Y-%m-%d %H:%M} UTC"


def signoff_text(report: dict) -> str:
    """The report as the terminal shows it: one line per checklist item, evidence indented."""
    s = report["summary"]
    scope = f" for LinkedIn connection {report['connection']}" if report["connection"] else ""
    out = [f"LinkedIn sign-off checklist{scope}, {_generated(report)}: "
           f"{s[PASS]} pass, {s[READY]} ready, {s[FAIL]} fail", ""]
    for line in report["lines"]:
        out.append(f"{line['id']}  {line['status']:<6} {line['title']}")
        out += [f"         {e}" for e in line["evidence"]]
        if line["how_to_demonstrate"]:
            out.append(f"         how to demonstrate: {line['how_to_demonstrate']}")
    return "\n".join(out)


def _with_code(text: str) -> str:
    """Our how-to texts quote commands in `backticks`: show them as code, everything escaped."""
    parts = text.split("`")
    return mark_safe("".join(f"<code>{escape(p)}</code>" if i % 2 else escape(p) for i, p in enumerate(parts)))


def signoff_html(report: dict) -> str:
    """The page, rendered from the template by Django's template engine with autoescaping, so every
    value (form and organization names come from LinkedIn) is escaped; only the how-to texts are
    marked up here, their commands as code."""
    lines = [{**line, "how": _with_code(line["how_to_demonstrate"])} for line in report["lines"]]
    return render_to_string(TEMPLATE, {"report": {**report, "lines": lines}, "generated": _generated(report)})

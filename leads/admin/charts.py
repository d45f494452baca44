"""Charts for the dashboard, drawn on the server as inline SVG: no script, no CDN, works offline."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

COLOURS = ["#417690", "#79aec8", "#e0a030", "#5b8c5a", "#a05d8c", "#c65d3b", "#6c6c9c", "#8c8c3b"]
OUTCOME_COLOURS = {"synced": "#3a8f3a", "failed": "#ba2121", "skipped": "#999999"}
WIDTH, HEIGHT, PAD = 600, 160, 24


def _svg(days, stacks, title):
    """`stacks`: [(label, colour, values)], drawn stacked per day."""
    totals = [sum(values[i] for _, _, values in stacks) for i in range(len(days))]
    top = max(totals + [1])
    step = (WIDTH - PAD) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        y = HEIGHT - PAD
        for label, colour, values in stacks:
            h = (HEIGHT - 2 * PAD) * values[i] / top
            if values[i]:
                bars.append(format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {}</title></rect>',
                    f"{PAD + i * step:.1f}", f"{y - h:.1f}", f"{step * 0.8:.1f}", f"{h:.1f}", colour, day.isoformat(), label, values[i]))
            y -= h
    axis = format_html('<text x="{}" y="{}" class="chart-label">{}</text><text x="{}" y="{}" class="chart-label" '
                       'text-anchor="end">{}</text><text x="2" y="{}" class="chart-label">{}</text>',
                       PAD, HEIGHT - 6, days[0].isoformat() if days else "", WIDTH, HEIGHT - 6,
                       days[-1].isoformat() if days else "", PAD - 8, top)
    legend = format_html_join("", '<span class="chart-key"><i style="background:{}"></i>{}</span>',
                              ((colour, label) for label, colour, _ in stacks))
    return format_html('<figure class="leadsync-chart"><svg viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}</svg>'
                       '<figcaption>{}</figcaption></figure>', WIDTH, HEIGHT, title, mark_safe("".join(bars)), axis,
                       legend)


def bar_chart(data) -> str:
    """Leads per day, one colour per integration."""
    stacks = [(name, COLOURS[n % len(COLOURS)], values) for n, (name, values) in enumerate(data["series"].items())]
    return _svg(data["days"], stacks, "Leads per day per integration, last 30 days")


def stacked_chart(data) -> str:
    """Sync outcomes per day: synced, failed, skipped."""
    stacks = [(name, OUTCOME_COLOURS[name], values) for name, values in data["series"].items()]
    return _svg(data["days"], stacks, "Sync outcomes per day, last 30 days")

"""--html FILE: one self-contained page (no external assets): a summary, what changed since the
previous run, a table of every model version and an inline SVG chart of build and predict times."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from envforge.redact import redact
from envforge.version import __version__

_COLORS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#9a6700", "unverified": "#6e7781", "interrupted": "#bc4c00"}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; font-size: 14px; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: bold; text-transform: uppercase; }
.reason { color: #57606a; font-size: 12px; }
"""


def render(rows: list[dict[str, Any]], summary: str, changes: list[dict[str, str]], title: str = "envforge verify-registry",
           extra: str = "", tracking_uri: str | None = None, generated_at: str | None = None) -> str:
    """`extra`: more HTML after the table (registry/trend.py's last nights)."""
    from envforge.result import now_iso

    meta = (f"<p id='meta' class='reason'>{escape(generated_at or now_iso())} &middot; tracking server "
            f"{escape(redact(tracking_uri)) if tracking_uri else '(none)'} &middot; envforge {escape(__version__)}</p>")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>", meta, f"<p id='summary'>{escape(summary)}</p>"]
    if changes:
        parts.append("<h2>Changed since the previous run</h2><ul id='changes'>")
        parts += [f"<li>{escape(redact(c['label']))}: {escape(c['before'])} &rarr; <b>{escape(c['after'])}</b></li>" for c in changes]
        parts.append("</ul>")
    parts.append(_table(rows))
    parts.append(extra)
    parts.append("<h2>Timings</h2>")
    parts.append(_chart(rows))
    parts.append(f"<p class='reason'>envforge {escape(__version__)}</p></body></html>")
    return "\n".join(parts)


def write_html(path: Path, rows: list[dict[str, Any]], summary: str, changes: list[dict[str, str]], extra: str = "",
               tracking_uri: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(rows, summary, changes, extra=extra, tracking_uri=tracking_uri), encoding="utf-8")


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("model", "version", "alias", "backend", "status", "build (s)", "predict (s)", "worst diff")
    out = ["<table id='results'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        color = _COLORS.get(row["status"], "#1f2328")
        cells = [
            f"<td class='model'>{escape(redact(str(row['model'])))}</td>", f"<td class='version'>{escape(str(row['version'] or ''))}"
            + (f"<div class='reason resolve'>{escape(_resolve(row))}</div>" if row.get("resolve") else "") + "</td>",
            f"<td>{escape(', '.join(row['aliases']))}</td>", f"<td>{escape(row['backend'])}</td>",
            f"<td><span class='status' style='color:{color}'>{escape(row['status'])}</span>"
            f"<div class='reason'>{escape(redact(row['reason']))}</div>"
            + "".join(f"<div class='reason note'>{escape(redact(n))}</div>" for n in row.get("notes") or []) + "</td>",
            f"<td class='num'>{row['build_seconds']:.2f}</td>", f"<td class='num'>{row['predict_seconds']:.2f}</td>",
            f"<td class='num'>{escape(_diff(row['worst_diff']))}</td>",
        ]
        resolve = f" data-resolve='{escape(row['resolve'])}'" if row.get("resolve") else ""
        out.append(f"<tr data-status='{escape(row['status'])}' data-uri='{escape(redact(row['uri']))}'{resolve}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _diff(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _chart(rows: list[dict[str, Any]]) -> str:
    """Horizontal stacked bars: build time (blue) then predict time (orange), one bar per model."""
    label_w, bar_w, row_h = 260, 520, 22
    longest = max([r["build_seconds"] + r["predict_seconds"] for r in rows] + [0.001])
    height = row_h * len(rows) + 40
    out = [f"<svg id='timings' xmlns='http://www.w3.org/2000/svg' width='{label_w + bar_w + 80}' height='{height}' "
           "font-family='system-ui, sans-serif' font-size='12'>"]
    for i, row in enumerate(rows):
        y = 10 + i * row_h
        build = bar_w * row["build_seconds"] / longest
        predict = bar_w * row["predict_seconds"] / longest
        label = f"{row['model']}/{row['version']}" if row["version"] else str(row["model"])
        label += f" ({_resolve(row)})" if row.get("resolve") else ""
        out.append(f"<text x='{label_w - 8}' y='{y + 14}' text-anchor='end'>{escape(redact(label))}</text>")
        out.append(f"<rect x='{label_w}' y='{y + 3}' width='{build:.1f}' height='{row_h - 6}' fill='#0969da'><title>build "
                   f"{row['build_seconds']:.2f} s</title></rect>")
        out.append(f"<rect x='{label_w + build:.1f}' y='{y + 3}' width='{predict:.1f}' height='{row_h - 6}' fill='#fb8500'>"
                   f"<title>predict {row['predict_seconds']:.2f} s</title></rect>")
        out.append(f"<text x='{label_w + build + predict + 6:.1f}' y='{y + 14}'>{row['build_seconds'] + row['predict_seconds']:.1f} s</text>")
    legend_y = 10 + len(rows) * row_h + 16
    out.append(f"<rect x='{label_w}' y='{legend_y - 10}' width='12' height='12' fill='#0969da'/>"
               f"<text x='{label_w + 16}' y='{legend_y}'>build (shared by the models of one environment)</text>")
    out.append(f"<rect x='{label_w + 330}' y='{legend_y - 10}' width='12' height='12' fill='#fb8500'/>"
               f"<text x='{label_w + 346}' y='{legend_y}'>load + predict</text>")
    out.append("</svg>")
    return "\n".join(out)


def _resolve(row: dict[str, Any]) -> str:
    """Which resolution a row is, in a run with several (registry/html_drift.py)."""
    from envforge.registry.html_drift import label

    return label(str(row["resolve"]))

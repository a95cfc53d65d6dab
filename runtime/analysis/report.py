"""What a person reads: the timeline PNG, the self-contained HTML report of a video, the run's HTML index.

A report inlines every image as base64 (timeline, and per event the onset and apex face crops and the
feature image), so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from sofp.runtime.events import Event
from sofp.runtime.overlay import save_trace_png

THUMB = 112  # px, side of every thumbnail


def timeline_png(times: np.ndarray, magnitude: np.ndarray, threshold: np.ndarray, events: Sequence[Event],
                 title: str) -> bytes:
    """The motion trace (px) over time (s) with its start threshold and every spotted interval and label."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_trace_png(Path(tmp) / "timeline.png", times.tolist(), magnitude.tolist(), threshold.tolist(),
                              events, title=title)
        return path.read_bytes()


def png_bytes(image: np.ndarray) -> bytes:
    """PNG of a grey (H x W) or RGB (H x W x 3) uint8 image."""
    img = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise ValueError(f"cannot encode an image of shape {image.shape} as PNG")
    return buf.tobytes()


def thumbnail(image: np.ndarray) -> bytes:
    """``image`` scaled to THUMB px (nearest neighbour: a 28 x 28 feature image keeps its pixels)."""
    interp = cv2.INTER_NEAREST if image.shape[0] < THUMB else cv2.INTER_AREA
    return png_bytes(cv2.resize(image, (THUMB, THUMB), interpolation=interp))


def _img(data: bytes, alt: str, cls: str = "") -> str:
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{src}" alt="{html.escape(alt)}"' + (f' class="{cls}"' if cls else "") + ">"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}img.timeline{max-width:100%;border:1px solid #ddd}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}dt{color:#666}
.failed{color:#b00}.skipped{color:#777}"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def render_report(title: str, facts: Mapping[str, object], labels: Sequence[str], events: Sequence[Event],
                  thumbs: Sequence[tuple[bytes, bytes, bytes]], timeline: bytes) -> str:
    """The video's HTML report: facts, timeline, one table row per event with its three thumbnails
    (PNG bytes: onset crop, aligned apex crop, feature image)."""
    dl = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items())
    head = ("<tr><th>#</th><th>onset s</th><th>apex s</th><th>offset s</th><th>frames</th><th>ms</th>"
            "<th class=l>label</th>" + "".join(f"<th>p({html.escape(lab)})</th>" for lab in labels)
            + "<th>px</th><th>onset crop</th><th>apex crop (aligned)</th><th>features (u, v, strain)</th></tr>")
    rows = []
    for i, (ev, (onset, apex, feats)) in enumerate(zip(events, thumbs, strict=True), 1):
        probs = "".join(f"<td>{ev.probabilities.get(lab, float('nan')):.3f}</td>" for lab in labels)
        rows.append(
            f"<tr class=event><td>{i}</td><td>{ev.onset_time:.3f}</td><td>{ev.apex_time:.3f}</td>"
            f"<td>{ev.offset_time:.3f}</td><td>{ev.onset_frame}-{ev.apex_frame}-{ev.offset_frame}</td>"
            f"<td>{1000 * ev.duration:.0f}</td><td class=l><b>{html.escape(ev.label)}</b></td>{probs}"
            f"<td>{ev.magnitude:.3f}</td><td>{_img(onset, f'event {i} onset')}</td>"
            f"<td>{_img(apex, f'event {i} apex')}</td><td>{_img(feats, f'event {i} features')}</td></tr>")
    table = (f"<table id=events>{head}{''.join(rows)}</table>" if rows else
             "<p id=events>No micro-expression was spotted.</p>")
    body = (f"<h1>{html.escape(title)}</h1><dl>{dl}</dl><h2>Timeline</h2>"
            f"{_img(timeline, 'motion timeline', 'timeline')}<h2>Events ({len(events)})</h2>{table}")
    return _page(title, body)


def render_index(title: str, rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """The run's index: one row per video (``columns`` of the summary), its report linked."""
    head = "".join(f"<th class=l>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            v = "" if row.get(c) is None else str(row.get(c))
            if c == "report" and v:
                cells.append(f'<td class=l><a href="{html.escape(v)}">report</a></td>')
            else:
                cells.append(f"<td class=l>{html.escape(v)}</td>")
        body.append(f"<tr class=\"{html.escape(str(row.get('status', '')))}\">{''.join(cells)}</tr>")
    return _page(title, f"<h1>{html.escape(title)}</h1><table id=videos><tr>{head}</tr>{''.join(body)}</table>")

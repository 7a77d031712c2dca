"""The HTML report: one self-contained file (no network: a Content-Security-Policy forbids
every load; small inline CSS and JS) with the summary, the findings table (filter by level and
rule), the facts used, the node groups and the reachability matrix, whose cells open the
layer-by-layer ``why`` trace. Every input-derived text goes through ``visible`` and
``html.escape``: a hostile description cannot inject markup.
"""

from __future__ import annotations

import html

from talosaudit.findings import Finding
from talosaudit.report.base import Report, describe_fact
from talosaudit.report.graph import EXPOSED, SYMBOLS, exposure_token, note_texts, port_token
from talosaudit.report.picture import GraphData
from talosaudit.report.safe import visible

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f3}.error{color:#b00020}.warning{color:#a05a00}.note{color:#1a5fb4}
.ok{color:#1a7f37}.bad{color:#b00020;font-weight:bold}.unk{color:#a05a00}.exp{color:#8e24aa}
td.cell button{font:inherit;background:none;border:0;padding:0;cursor:pointer;text-align:left}
td.cell button:hover{text-decoration:underline}
#trace{border:1px solid #888;background:#fafafa;padding:8px;margin-top:1em}
pre{white-space:pre-wrap;margin:0}code{font-size:.95em}
"""

_JS = """
(function(){
  var level=document.getElementById('f-level'),rule=document.getElementById('f-rule');
  function filter(){
    document.querySelectorAll('#findings tbody tr').forEach(function(tr){
      tr.hidden=(level.value&&tr.dataset.level!==level.value)||(rule.value&&tr.dataset.rule!==rule.value);
    });
  }
  if(level){level.addEventListener('change',filter);rule.addEventListener('change',filter);}
  document.querySelectorAll('td.cell button').forEach(function(b){
    b.addEventListener('click',function(){
      var box=document.getElementById('trace');
      document.getElementById('trace-title').textContent=b.dataset.title;
      document.getElementById('trace-body').textContent=document.getElementById(b.dataset.trace).textContent;
      box.hidden=false;box.scrollIntoView({block:'nearest'});
    });
  });
})();
"""

_CLASS = {"allowed": "ok", "blocked": "bad", "partial": "bad", "unknown": "unk"}


def esc(text: object) -> str:
    """One line of input-derived text, safe inside HTML text and attribute values."""
    return html.escape(visible(text), quote=True)


def _block(text: str) -> str:
    """Several lines (a trace): each made visible and escaped, the line breaks kept."""
    return "\n".join(esc(line) for line in text.split("\n"))


def _finding_row(report: Report, f: Finding) -> str:
    policy = report.policy(f.rule_id)
    remediation = policy.remediation.strip() if policy else ""
    fix = f"<details><summary>fix</summary><pre>{_block(remediation)}</pre></details>" if remediation else ""
    return (
        f'<tr data-level="{esc(f.level.value)}" data-rule="{esc(f.rule_id)}">'
        f'<td class="{esc(f.level.value)}">{esc(f.level.value)}</td>'
        f"<td>{esc(f.rule_id)} {esc(report.rule_name(f.rule_id))}</td>"
        f"<td><code>{esc(f.location.path)}:{f.location.start_line}</code></td>"
        f"<td>{esc(f.message)}</td><td>{fix}</td></tr>"
    )


def _findings(report: Report) -> list[str]:
    if not report.findings:
        return ["<p>No findings.</p>"]
    levels = sorted({f.level.value for f in report.findings})
    rules = sorted({f.rule_id for f in report.findings})
    return [
        '<p><label>Level <select id="f-level"><option value="">all</option>'
        + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in levels)
        + '</select></label> <label>Rule <select id="f-rule"><option value="">all</option>'
        + "".join(f'<option value="{esc(r)}">{esc(r)}</option>' for r in rules)
        + "</select></label></p>",
        '<table id="findings"><thead><tr><th>Level</th><th>Rule</th><th>Location</th><th>Message</th>'
        "<th>Remediation</th></tr></thead><tbody>",
        *(_finding_row(report, f) for f in report.findings),
        "</tbody></table>",
    ]


def _token(text: str, verdict: str) -> str:
    return f'<span class="{_CLASS.get(verdict, "exp")}">{esc(text)}</span>'


def _matrix(data: GraphData, index: int = 0) -> list[str]:
    """One matrix (``index``: its place among the roots' matrices, for unique ids), its
    notes and its cells' hidden traces."""
    rows, columns = data.rows, data.columns
    if not rows:
        return ["<p>No required flow applies.</p>"]
    suffix = f"-{index}" if index else ""
    out = [
        f'<table id="matrix{suffix}"><thead><tr><th>from \\ to</th>'
        + "".join(f"<th>{esc(c)}</th>" for c in columns)
        + "</tr></thead><tbody>"
    ]
    traces: list[str] = []
    for row in rows:
        cells = []
        for column in columns:
            entries, marks = data.cell(row, column)
            if not entries and not marks:
                cells.append('<td class="empty">·</td>')
                continue
            tokens = [_token(port_token(e), e.verdict) for e in entries]
            tokens += [_token(exposure_token(m), "exposed") for m in marks]
            trace_id = f"trace{suffix}-{len(traces)}"
            trace = data.traces.get((row, column), "no trace recorded")
            traces.append(f'<pre hidden id="{trace_id}">{_block(trace)}</pre>')
            title = f"{row} → {column}"
            cells.append(
                f'<td class="cell"><button type="button" data-trace="{trace_id}" data-title="{esc(title)}" '
                f'title="show the layer-by-layer trace">{" ".join(tokens)}</button></td>'
            )
        out.append(f"<tr><th>{esc(row)}</th>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    legend = ", ".join(f"{SYMBOLS[v]} {v}" for v in ("allowed", "blocked", "unknown"))
    out.append(f"<p>{esc(legend)}, {EXPOSED} forbidden exposure that holds. Click a cell for its trace.</p>")
    notes = note_texts(data)
    if notes:
        out += [f'<ul id="notes{suffix}">', *(f"<li>{esc(n)}</li>" for n in notes), "</ul>"]
    return [*out, *traces]


def render_html(report: Report) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        "<title>talosaudit report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>talosaudit report</h1>",
        f'<p id="summary"><strong>{esc(report.summary_line())}</strong></p>',
    ]
    extra = report.extra_line()
    if extra:
        out.append(f"<p><em>{esc(extra)}; not counted.</em></p>")
    out += ["<h2>Findings</h2>", *_findings(report)]
    for index, (root, graph) in enumerate(report.graphs):
        of_root = f" (root {esc(root)})" if root else ""
        out.append(f"<h2>Node groups{of_root}</h2><ul>")
        for v in graph.views:
            layers = "; ".join(v.layers) or "no layer"
            out.append(f"<li><strong>{esc(v.label)}</strong> {esc(v.resource)} — behind {esc(layers)}</li>")
        out.append("</ul>")
        out += [f"<h2>Reachability{of_root}</h2>", *_matrix(graph, index)]
    if report.graphs:
        # One trace panel for every matrix: a cell's trace opens here.
        out.append(
            '<div id="trace" hidden><strong id="trace-title"></strong><pre id="trace-body"></pre></div>'
        )
    for root, facts in report.fact_sections():
        out.append(f"<h2>Facts used (root {esc(root)})</h2><ul>" if root else "<h2>Facts used</h2><ul>")
        out += [f"<li>{esc(describe_fact(f))}</li>" for f in facts]
        out.append("</ul>")
    if report.notices:
        out.append("<h2>Notices</h2><ul>")
        out += [f"<li>{esc(n)}</li>" for n in report.notices]
        out.append("</ul>")
    out += [f"<script>{_JS}</script>", "</body></html>"]
    return "\n".join(out) + "\n"

"""The HTML report's stylesheet: inlined in `<style>` by the standalone page, served as a file by the
dashboard (its Content-Security-Policy allows no inline style). Every colour of the report body is a
class here; the body itself carries no style attribute. No `url(`, no `@import`, no web font.
"""

from __future__ import annotations

from .report_svg import AUTOMATED, NO_DATA, WAIT_BANDS

# Handoff counts, light to dark (log scale); white text on the two darkest.
MATRIX_SCALE = ("#eef4fb", "#c9dcf0", "#98bfe3", "#5f9bd1", "#2f73b8")

BASE_CSS = """
.handoff-report{--ink:#1f2933;--muted:#52606d;--line:#d2d6dc;color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
.handoff-report *{box-sizing:border-box}
.handoff-report h1{font-size:24px;margin:0 0 4px}
.handoff-report h2{font-size:20px;margin:32px 0 8px;padding-top:8px;border-top:2px solid var(--line)}
.handoff-report h3{font-size:15px;margin:22px 0 6px}
.handoff-report .muted,.handoff-report .window,.handoff-report .explain{color:var(--muted)}
.handoff-report .explain{font-size:13px;max-width:80em;margin:4px 0 8px}
.handoff-report a{color:inherit}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:170px}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600}.card .s{font-size:12px;color:var(--muted)}
.panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px;margin:8px 0;overflow-x:auto}
.note{background:#fff8e1;border:1px solid #f0c36d;border-radius:6px;padding:10px 14px;margin:8px 0}
svg.diagram{display:block}
svg text{font-family:inherit}
rect.pool,rect.lane{fill:none;stroke:#555;stroke-width:1.2}rect.pool{stroke-width:1.6;fill:#fcfcfd}
.band{stroke:#555;stroke-width:1}
.pool-label,.lane-label{font-size:12px;font-weight:600;text-anchor:middle;dominant-baseline:middle;fill:#333}
rect.act{stroke:#374151;stroke-width:1.4}rect.act.sub{stroke-width:1.8}rect.act.call{stroke-width:3}
.name{font-size:11px;font-weight:600;text-anchor:middle;fill:#111}
.fig{font-size:10px;text-anchor:middle;fill:#1f2933}
.shape.dark .name,.shape.dark .fig{fill:#fff}
circle.event{fill:#fff;stroke:#374151;stroke-width:1.6}circle.event.end{stroke-width:3.5}
circle.event.inner{fill:none;stroke-width:1}
polygon.gateway{fill:#fff;stroke:#374151;stroke-width:1.4}.gmark{fill:none;stroke:#374151;stroke-width:2.5}
.olabel{font-size:10px;text-anchor:middle;fill:#333}.olabel-l{font-size:10px;fill:#333}
rect.other{fill:#fff;stroke:#777}.annot{fill:none;stroke:#777}rect.marker{fill:#fff;stroke:#374151}
polyline{fill:none}polyline.sflow{stroke:#333;stroke-width:1.5}
polyline.mflow{stroke:#555;stroke-width:1.3;stroke-dasharray:7 5}polyline.assoc{stroke:#777;stroke-dasharray:2 3}
.arrowhead{fill:#333}.openhead{fill:#fff;stroke:#555;stroke-width:1.2}
.elabel{font-size:10px;text-anchor:middle;fill:#444;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg.diagram a .shape rect.act{cursor:pointer}svg.diagram a:hover rect.act{stroke-width:2.6}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:4px 10px;font-size:12px;margin:6px 0 2px}
.legend .key{display:inline-flex;align-items:center;gap:4px}
.swatch{display:inline-block;width:22px;height:14px;border:1px solid #9aa5b1;border-radius:3px}
.tick{color:var(--muted)}
.handoff-report table{border-collapse:collapse;background:#fff}
table.data{min-width:50%;font-size:13px}
table.data th,table.data td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left}
table.data th{background:#eef1f4;font-size:12px}
table.data td.num,table.data th.num{text-align:right;font-variant-numeric:tabular-nums}
table.data tr.partial td{color:var(--muted);font-style:italic}
table.matrix{font-size:13px}table.matrix caption{caption-side:top;text-align:left;color:var(--muted);padding:4px 0}
table.matrix th{background:#eef1f4;padding:6px 10px;font-size:12px;text-align:left}
table.matrix td{border:1px solid #fff;width:120px;height:52px;text-align:center;vertical-align:middle}
table.matrix td.empty{color:#b0b7c0;background:#fafbfc}
td.cell .count{display:block;font-size:17px;font-weight:700}td.cell .lat{display:block;font-size:11px}
td.cell a.fill{display:block;text-decoration:none}
figure.hist{margin:8px 0}figure.hist figcaption{font-size:12px;color:var(--muted)}
.histogram rect{fill:#5f9bd1}.histogram .bar.open rect{fill:#98bfe3}
.axis{stroke:#555}.ytick{font-size:10px;text-anchor:end;fill:#555}
.xtick{font-size:10px;text-anchor:middle;fill:#333}.bval{font-size:11px;text-anchor:middle;fill:#111}
.axis-title{font-size:11px;text-anchor:middle;fill:#555}
.handoff-report footer{margin-top:32px;font-size:12px;color:var(--muted)}
"""


def report_css() -> str:
    """The report's whole stylesheet (the page's `<style>`, or the dashboard's `report.css`)."""
    bands = "".join(f".swatch.w{i}{{background:{b.colour}}}" for i, b in enumerate(WAIT_BANDS))
    cells = "".join(f"td.cell.m{i}{{background:{c}}}" for i, c in enumerate(MATRIX_SCALE))
    return (
        BASE_CSS
        + bands
        + f".swatch.nodata{{background:{NO_DATA}}}.swatch.automated{{background:{AUTOMATED};border-color:#555}}\n"
        + cells
        + "td.cell.m3,td.cell.m4{color:#fff}\n"
    )


PAGE_CSS = "body{margin:0;padding:24px 32px;background:#f7f8fa}\n"

__all__ = ["MATRIX_SCALE", "PAGE_CSS", "report_css"]

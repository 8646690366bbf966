// The page's stylesheet, inline so that report.html is one file that opens from file:// with no network.
// System fonts only; light and print friendly; charts scale down with the window (SVG viewBox).

export const PAGE_CSS = `
:root {
  --fg: #1c2330; --muted: #5a6475; --faint: #9aa3b2; --line: #dde2ea; --bg: #f4f6f9; --card: #fff;
  --accent: #0072b2; --removed: #c0392b;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", "Liberation Sans", sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font-size: 15px; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 24px 40px; }
code { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.92em; }
header.top { margin-bottom: 8px; }
.eyebrow { margin: 0; font-size: 12px; letter-spacing: 0.08em; text-transform: uppercase; color: var(--muted); font-weight: 600; }
h1 { margin: 2px 0 4px; font-size: 30px; line-height: 1.2; }
h1 .arch { font-size: 13px; font-weight: 600; color: var(--muted); background: #e6eaf0; border-radius: 4px; padding: 2px 7px; vertical-align: middle; }
.paths { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
.paths code { background: #e9edf3; border-radius: 4px; padding: 1px 5px; color: var(--fg); }
.facts { display: flex; flex-wrap: wrap; gap: 6px 30px; margin: 14px 0 0; }
.facts dt { font-size: 12px; color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.callout { margin: 14px 0 0; padding: 10px 14px; border-left: 4px solid #e69f00; background: #fff7e6; border-radius: 4px; }
.callout ul { margin: 4px 0 0; padding-left: 20px; }
.kpis { display: grid; grid-template-columns: minmax(0, 1.5fr) repeat(3, minmax(0, 1fr)); gap: 12px; margin: 18px 0 4px; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px 14px; }
.kpi-label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; font-weight: 600; }
.kpi-value { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 8px; margin-top: 4px; font-size: 24px; font-weight: 700; font-variant-numeric: tabular-nums; }
.kpi-value .before { font-size: 16px; font-weight: 500; color: var(--muted); }
.kpi-value .tuned { font-size: 19px; color: #009e73; }
.kpi-value .recalibrated { font-size: 19px; color: #0072b2; }
.kpi-value .arrow { font-size: 16px; color: var(--faint); font-weight: 400; }
.kpi-sub { margin-top: 4px; font-size: 13px; color: var(--muted); }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 18px 20px 20px; margin: 16px 0; }
h2 { margin: 0 0 4px; font-size: 19px; }
h3 { margin: 0; font-size: 15px; }
.lede { margin: 0 0 14px; color: var(--muted); font-size: 14px; max-width: 80ch; }
.muted { color: var(--muted); font-weight: 400; }
svg.defs { position: absolute; width: 0; height: 0; overflow: hidden; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart { fill: #2b3240; }
svg.chart text { font-family: inherit; dominant-baseline: central; text-anchor: middle; }
svg.chart .end { text-anchor: end; }
svg.chart .start { text-anchor: start; }
svg.chart .strong { font-weight: 700; }
svg.chart .unit-label.removed { fill: var(--removed); text-decoration: line-through; }
svg.chart .unit-label.protected { font-weight: 700; }
.band-label { font-size: 10px; font-weight: 700; }
.segment-box { fill: none; stroke: #fff; stroke-width: 1.5; }
.segment-box-rim { fill: none; stroke: #10131a; stroke-width: 4; }
.crosshair { fill: none; stroke: #fff; stroke-width: 1.2; stroke-dasharray: 3 2; pointer-events: none; }
svg.chart .cell-value { font-size: 10px; pointer-events: none; }
.heatmap .cells rect:hover { stroke: #fff; stroke-width: 1.5; }
svg.chart .tick { font-size: 10px; fill: var(--muted); }
svg.chart .legend-title, svg.chart .axis-title { font-size: 11px; fill: var(--muted); font-weight: 600; }
.grid { stroke: #e8ebf0; }
.baseline { stroke: #c5ccd6; }
.curve { fill: none; stroke: #3d4452; stroke-width: 1.5; stroke-linejoin: round; }
.segment-mean { stroke-dasharray: 6 4; stroke-width: 2; }
svg.chart .segment-label { font-size: 11px; font-weight: 700; }
.chosen-k { stroke: var(--accent); stroke-dasharray: 4 3; }
.chosen { fill: var(--accent); stroke: #fff; stroke-width: 2; }
.loss-point { fill: #3d4452; }
svg.chart .cut { font-size: 10px; fill: var(--faint); }
svg.chart .cut.counts { fill: #2b3240; }
svg.chart .chosen-label { fill: var(--accent); font-weight: 700; font-size: 13px; }
.leader { stroke: #d4d9e1; }
.best-dot, .pick { stroke: #10131a; stroke-width: 1.5; }
.best-ring { fill: none; stroke: #10131a; stroke-width: 2; }
.step-sep { stroke: #d4d9e1; stroke-dasharray: 2 3; }
.heatmap-layout { display: grid; grid-template-columns: minmax(0, auto) minmax(230px, 300px); gap: 24px; align-items: start; }
.side p { margin: 0 0 10px; font-size: 14px; }
.readout { display: block; min-height: 3em; padding: 8px 10px; border-radius: 6px; background: #f0f3f7; font-size: 13px; font-variant-numeric: tabular-nums; white-space: pre-line; }
.legend-list { list-style: none; margin: 0 0 12px; padding: 0; font-size: 13px; }
.legend-list li { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.legend-list .swatch { flex: none; }
.grid-2 { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 24px; align-items: start; }
figure { margin: 0; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.segment-card { border: 1px solid var(--line); border-top: 4px solid var(--seg); border-radius: 10px; padding: 12px 14px 14px; break-inside: avoid; }
.segment-card .meta { margin: 2px 0 8px; font-size: 13px; color: var(--muted); }
.segment-card .verdict { margin: 8px 0 0; font-size: 13px; }
.chip { display: inline-block; margin: 2px 3px 0 0; padding: 0 6px; border-radius: 10px; background: #eef1f5; font-size: 12px; white-space: nowrap; }
.chip.removed { background: #fbe9e7; color: var(--removed); text-decoration: line-through; }
.tables { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 24px; align-items: start; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
caption { text-align: left; font-weight: 700; padding-bottom: 6px; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
tbody th { font-weight: 500; }
tfoot th, tfoot td { font-weight: 700; border-bottom: none; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.share { width: 45%; white-space: nowrap; }
.bar { display: inline-block; height: 10px; min-width: 1px; max-width: calc(100% - 56px); margin-right: 8px; border-radius: 2px; background: var(--accent); vertical-align: middle; }
.pct { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
.protocol-groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 18px 28px; align-items: start; }
table.protocol { break-inside: avoid; }
table.protocol caption code { margin-left: 4px; font-weight: 400; font-size: 12px; color: var(--faint); }
table.protocol th { width: 48%; }
table.protocol td { overflow-wrap: anywhere; font-weight: 600; word-break: break-word; }
footer { margin-top: 24px; font-size: 12px; color: var(--faint); text-align: center; }
@media (max-width: 900px) {
  .heatmap-layout, .grid-2, .tables { grid-template-columns: minmax(0, 1fr); }
  .kpis { grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); }
  main { padding: 18px 12px 32px; }
}
@media print {
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  section.card, .kpi, .segment-card, figure { break-inside: avoid; }
  section.card { border-color: #ccc; }
  .crosshair, .readout { display: none; }
}
@page { margin: 12mm; }
`;

// The page's only script: a crosshair over the hovered heatmap cell and a readout line with its exact
// value. The page is complete without it (every cell has a <title>), so it fails quietly if an element is
// missing. Plain ES2015, no modules, so that it runs from file:// in any browser.

export const PAGE_SCRIPT = `(function () {
  var svg = document.getElementById('cka-heatmap');
  var out = document.getElementById('cka-readout');
  var row = document.getElementById('cka-row');
  var col = document.getElementById('cka-col');
  if (!svg || !out || !row || !col) return;
  var idle = out.textContent;
  svg.addEventListener('mouseover', function (e) {
    var cell = e.target;
    if (!cell || cell.tagName !== 'rect' || !cell.parentNode || cell.parentNode.getAttribute('class') !== 'cells') return;
    var title = cell.querySelector('title');
    out.textContent = title ? title.textContent.replace('\\n', ': ') : idle;
    row.setAttribute('y', cell.getAttribute('y'));
    col.setAttribute('x', cell.getAttribute('x'));
    row.setAttribute('visibility', 'visible');
    col.setAttribute('visibility', 'visible');
  });
  svg.addEventListener('mouseleave', function () {
    out.textContent = idle;
    row.setAttribute('visibility', 'hidden');
    col.setAttribute('visibility', 'hidden');
  });
})();`;

// report.export's renderer: one call draws a figure once and returns every requested format.
//
// Why not plotly's own Plotly.toImage (what kaleido calls): it plots a fresh copy of the figure
// and then waits a fixed 500 ms for any 3D scene before taking the picture, and kaleido reloads
// the whole page (plotly.js included) after every image. Here the page stays loaded, a static
// plot shares plotly's one offscreen WebGL context, the scene is drawn once at the output's
// pixel ratio, and PNG, SVG and PDF all come from that single SVG snapshot.
'use strict';

window.gpuscape = (function () {
  const printBox = () => document.getElementById('gpuscape-print');
  const options = new URLSearchParams(window.location.search);

  // ?antialias=0 turns WebGL multisampling off for this tab. Chromium without a GPU draws WebGL
  // in software (SwiftShader), where 4x multisampling of a 1920x1080 scene costs more than
  // everything else in a 3D figure; the export asks for it where speed matters more than
  // smooth edges. It must be set before plotly creates its one offscreen WebGL context.
  if (options.get('antialias') === '0') {
    const getContext = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (kind, attributes) {
      if (kind === 'webgl' || kind === 'webgl2' || kind === 'experimental-webgl') {
        attributes = Object.assign({}, attributes || {}, { antialias: false });
      }
      return getContext.call(this, kind, attributes);
    };
  }

  async function plot(figure, width, height, scale) {
    const gd = document.createElement('div');
    // laid out (plotly measures text) but never painted: nobody looks at this page
    gd.style.visibility = 'hidden';
    document.body.appendChild(gd);
    const layout = Object.assign({}, figure.layout || {}, { width: width, height: height, autosize: false });
    const config = Object.assign({}, figure.config || {}, {
      staticPlot: true,
      displayModeBar: false,
      responsive: false,
      plotGlPixelRatio: scale,
    });
    try {
      await Plotly.newPlot(gd, figure.data || [], layout, config);
    } catch (error) {
      Plotly.purge(gd);
      gd.remove();
      throw error;
    }
    return gd;
  }

  function snapshot(gd) {
    try {
      return Plotly.Snapshot.toSVG(gd);
    } finally {
      Plotly.purge(gd);
      gd.remove();
    }
  }

  async function rasterize(svg, format, width, height, scale) {
    const url = await Plotly.Snapshot.svgToImg({
      canvas: document.createElement('canvas'),
      svg: svg,
      format: format,
      width: width,
      height: height,
      scale: scale,
      promise: true,
    });
    return url.slice(url.indexOf(',') + 1); // base64 without the data: prefix
  }

  // The PDF is printed by the browser (Page.printToPDF) from the SVG shown alone on a page of
  // the figure's size, as kaleido does it; this sets that page up and resolves once it is drawn.
  function preparePrint(svg, width, height) {
    document.getElementById('gpuscape-page-style').textContent =
      '@page { size: ' + width + 'px ' + height + 'px; margin: 0; }';
    const box = printBox();
    box.style.width = width + 'px';
    box.style.height = height + 'px';
    const img = new Image();
    const loaded = new Promise(function (resolve, reject) {
      img.onload = resolve;
      img.onerror = function () { reject(new Error('the SVG snapshot did not load for printing')); };
    });
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
    box.replaceChildren(img);
    return loaded;
  }

  function clearPrint() {
    printBox().replaceChildren();
  }

  async function render(figure, formats, width, height, scale) {
    clearPrint();
    const svg = snapshot(await plot(figure, width, height, scale));
    const out = {};
    if (formats.indexOf('svg') >= 0) out.svg = svg;
    if (formats.indexOf('png') >= 0) out.png = await rasterize(svg, 'png', width, height, scale);
    if (formats.indexOf('pdf') >= 0) {
      await preparePrint(svg, width, height);
      out.pdf = 'print';
    }
    return out;
  }

  // A small static 3D plot that stays on the page. plotly's WebGL shaders are reference-counted
  // per context: when the last 3D plot is purged they are deleted, and the next figure compiles
  // them again, which in software WebGL (SwiftShader) costs about as much as drawing the figure.
  // Keeping one scene alive keeps them compiled (measured: half the GPU-process CPU per figure).
  function keepShadersWarm() {
    const gd = document.createElement('div');
    gd.id = 'gpuscape-keep-warm';
    gd.style.visibility = 'hidden';
    document.body.appendChild(gd);
    const trace = {
      type: 'scatter3d',
      mode: 'markers',
      x: [1, 2, 3, 4],
      y: [1, 10, 100, 1000],
      z: [1, 10, 100, 1000],
      marker: { symbol: ['circle', 'diamond', 'square', 'cross'], size: 6 },
    };
    const layout = {
      width: 120,
      height: 120,
      showlegend: false,
      scene: { yaxis: { type: 'log', title: { text: 'y' } }, zaxis: { type: 'log', title: { text: 'z' } } },
    };
    return Plotly.newPlot(gd, [trace], layout, { staticPlot: true, displayModeBar: false });
  }

  // this script runs in <head>: wait for <body> before adding the plot
  const bodyReady = new Promise(function (resolve) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', resolve);
    else resolve();
  });
  const ready = bodyReady.then(keepShadersWarm).then(function () { return Plotly.version; });

  return { render: render, clearPrint: clearPrint, ready: ready, version: Plotly.version };
})();

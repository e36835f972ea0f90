// report.export's turning camera: the figure is drawn once on this page, then each frame only
// moves the camera (Plotly.relayout) and the browser captures the plot. Loaded by render.html
// beside render.js, so the animation runs in the same browser session as every other image.
'use strict';

window.gpuscapeTurn = (function () {
  let gd = null;

  // Draw the figure once at its layout size in the top-left corner; resolves to the plot's
  // position on the page (where the screenshots are clipped).
  async function draw(figure, width, height) {
    if (gd !== null) Plotly.purge(gd);
    gd = document.createElement('div');
    gd.id = 'gpuscape-turn';
    gd.style.position = 'absolute';
    gd.style.left = '0';
    gd.style.top = '0';
    document.body.appendChild(gd);
    const layout = Object.assign({}, figure.layout || {}, { width: width, height: height, autosize: false });
    await Plotly.newPlot(gd, figure.data || [], layout, { displayModeBar: false, responsive: false });
    const box = gd.getBoundingClientRect();
    return { x: box.left, y: box.top };
  }

  // Two animation frames after the relayout: the WebGL scene has redrawn by then.
  async function move(camera) {
    await Plotly.relayout(gd, { 'scene.camera': camera });
    await new Promise(function (resolve) {
      requestAnimationFrame(function () { requestAnimationFrame(function () { resolve(true); }); });
    });
    return true;
  }

  function clear() {
    if (gd !== null) {
      Plotly.purge(gd);
      gd.remove();
      gd = null;
    }
  }

  return { draw: draw, move: move, clear: clear };
})();

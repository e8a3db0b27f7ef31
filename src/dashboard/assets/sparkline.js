// @ts-check
/** A small line of the recent RTT samples, drawn as SVG from numbers only. */

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 60;
const HEIGHT = 16;
/** As many samples as the server keeps (DASHBOARD_RTT_SAMPLES: one per RTT round, every 5 s). */
export const SAMPLES = 30;

export function sparkline() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  svg.append(document.createElementNS(SVG, 'polyline'));
  return svg;
}

/**
 * Right-aligned: the newest sample at the right edge. Scaled between the samples' own min and
 * max (a flat line for steady RTT), so it shows the shape, and the cell beside it the value.
 * @param {SVGSVGElement} svg
 * @param {number[]} samples
 */
export function drawSparkline(svg, samples) {
  const line = /** @type {SVGPolylineElement} */ (svg.firstChild);
  if (samples.length < 2) {
    line.removeAttribute('points');
    return;
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of samples) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = Math.max(max - min, 0.05);
  const step = WIDTH / (SAMPLES - 1);
  const x0 = WIDTH - step * (samples.length - 1);
  const points = samples.map((v, i) => `${(x0 + i * step).toFixed(1)},${(HEIGHT - 1 - ((v - min) / range) * (HEIGHT - 2)).toFixed(1)}`);
  line.setAttribute('points', points.join(' '));
}

/** Adds a sample, keeping the last SAMPLES. */
export function addSample(/** @type {number[]} */ samples, /** @type {number} */ value) {
  samples.push(value);
  if (samples.length > SAMPLES) samples.shift();
}

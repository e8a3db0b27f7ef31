// @ts-check
/**
 * The page's only way to make elements: tags, class names and text. Peer-supplied strings go
 * into `textContent` (never parsed as HTML) and nowhere else; the server's Content-Security-Policy
 * and Trusted Types would stop an HTML sink anyway.
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A cell of a grid row (see keyed-rows.js). @param {string} className */
export function cell(className) {
  const node = el('div', className);
  node.setAttribute('role', 'cell');
  return node;
}

/** Sets a node's text only when it differs: no layout work for an unchanged cell. */
export function setText(/** @type {Node} */ node, /** @type {string} */ text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Sets a class only when it differs. */
export function setClass(/** @type {Element} */ node, /** @type {string} */ className) {
  if (node.className !== className) node.className = className;
}

/** @param {string} id */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

const STATUSES = new Set(['alive', 'suspect', 'lost', 'left']);

/** A status as a class-name suffix: only the four known ones, so no server string ever becomes a class. */
export function statusClass(/** @type {string} */ status) {
  return STATUSES.has(status) ? status : 'unknown';
}

/**
 * Metadata as `key=value` chips, all text.
 * @param {HTMLElement} cell
 * @param {Record<string, string>} metadata
 */
export function renderMetadata(cell, metadata) {
  const chips = Object.entries(metadata).map(([key, value]) => {
    const chip = el('span', 'chip');
    chip.append(el('span', 'k', key), el('span', 'eq', '='), el('span', 'v', String(value)));
    return chip;
  });
  cell.replaceChildren(...chips);
  cell.title = Object.entries(metadata).map(([key, value]) => `${key}=${value}`).join('\n'); // the whole of it, when the row cuts it
}

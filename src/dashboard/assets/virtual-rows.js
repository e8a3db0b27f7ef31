// @ts-check
import { byId as compareIds } from './format.js';

/** One row's height in px (dashboard.css `.grid .body .row`): fixed, so a row's place is a multiplication. */
export const ROW_HEIGHT = 40;
/** Rows drawn beyond each edge of the viewport. */
const OVERSCAN = 8;

/**
 * The rows of a table, keyed by peer id and sorted by it, of which only those on screen are in
 * the document: a page of 1,000 peers has ~40 row elements, so it opens in a fraction of the
 * time, a pulse touches what can be seen, and a scroll lays out a few rows. (Tried first: every
 * row in the document, as a table (each pulse laid out all 1,000 rows, ~20 ms) and as contained
 * grid rows with content-visibility (Chromium checks the intersection of every row on every frame
 * of a scroll: half the frame rate).) Items are created by their owner; their row elements on
 * first show, by `create`.
 * @template {{ id: string }} T
 */
export class VirtualRows {
  /**
   * @param {HTMLElement} body
   * @param {(item: T) => HTMLElement} create makes an item's row element (once)
   * @param {(item: T, row: HTMLElement) => void} shown called when an item's row enters the document
   */
  constructor(body, create, shown) {
    this.body = body;
    this.create = create;
    this.onShown = shown;
    /** @type {Map<string, T>} */
    this.items = new Map();
    /** @type {string[]} sorted ids */
    this.order = [];
    /** @type {Set<string>} ids the filters hide */
    this.hidden = new Set();
    /** @type {T[] | undefined} the items not hidden, in order; rebuilt after a change */
    this.visibleCache = undefined;
    /** @type {WeakMap<T, HTMLElement>} */
    this.elements = new WeakMap();
    /** @type {T[]} the items whose rows are in the document now */
    this.window = [];
    this.scheduled = false;
    const schedule = () => this.schedule();
    addEventListener('scroll', schedule, { passive: true });
    addEventListener('resize', schedule, { passive: true });
  }

  get size() {
    return this.items.size;
  }

  /** @param {string} id */
  get(id) {
    return this.items.get(id);
  }

  values() {
    return this.items.values();
  }

  /** The row element of an item, if it was ever shown. @param {T} item */
  element(item) {
    return this.elements.get(item);
  }

  /** The items the filters let through, in order. */
  visible() {
    this.visibleCache ??= this.order.filter((id) => !this.hidden.has(id)).map((id) => /** @type {T} */ (this.items.get(id)));
    return this.visibleCache;
  }

  /** The items whose rows are in the document (on screen, give or take a few). */
  onScreen() {
    return this.window;
  }

  /** @param {T[]} added new items, any order */
  add(added) {
    if (added.length === 0) return;
    if (this.order.length === 0) {
      for (const item of added) this.items.set(item.id, item);
      this.order = added.map((item) => item.id).sort(compareIds);
    } else {
      for (const item of added) {
        this.items.set(item.id, item);
        this.order.splice(this.position(item.id), 0, item.id);
      }
    }
    this.changed();
  }

  /** @param {string} id */
  remove(id) {
    if (!this.items.delete(id)) return;
    this.hidden.delete(id);
    const at = this.position(id);
    if (this.order[at] === id) this.order.splice(at, 1);
    this.changed();
  }

  clear() {
    for (const item of this.window) this.elements.get(item)?.remove();
    this.window = [];
    this.items.clear();
    this.hidden.clear();
    this.order = [];
    this.changed();
  }

  /** @param {string} id @param {boolean} hidden */
  setHidden(id, hidden) {
    if (this.hidden.has(id) === hidden) return;
    if (hidden) this.hidden.add(id);
    else this.hidden.delete(id);
    this.changed();
  }

  /** Draws the rows on screen at the next frame (once, however many calls). */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  /**
   * Puts the rows on screen in the document, each at its place (absolutely positioned in a body
   * as tall as all the rows), in document order too (for screen readers and find-in-page): rows
   * that stay are not touched, rows that leave are removed, rows that come are inserted.
   */
  render() {
    const visible = this.visible();
    this.body.style.height = `${visible.length * ROW_HEIGHT}px`;
    const offset = -this.body.getBoundingClientRect().top;
    const first = Math.max(0, Math.floor(offset / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((offset + innerHeight) / ROW_HEIGHT) + OVERSCAN);
    const window = visible.slice(first, Math.max(first, last));
    const keep = new Set(window);
    for (const item of this.window) if (!keep.has(item)) this.elements.get(item)?.remove();
    const before = new Set(this.window);
    this.window = window;
    /** @type {Element | null} */
    let previous = null;
    window.forEach((item, i) => {
      let row = this.elements.get(item);
      if (!row) this.elements.set(item, row = this.create(item));
      const top = `${(first + i) * ROW_HEIGHT}px`;
      if (row.style.top !== top) row.style.top = top;
      if (row.previousElementSibling !== previous || row.parentElement !== this.body) {
        if (previous) previous.after(row);
        else this.body.prepend(row);
      }
      if (!before.has(item)) this.onShown(item, row);
      previous = row;
    });
  }

  changed() {
    this.visibleCache = undefined;
    this.schedule();
  }

  /** Binary search: where `id` is or would go. @param {string} id */
  position(id) {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.order[mid], id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

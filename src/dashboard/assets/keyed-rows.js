// @ts-check
import { byId as compareIds } from './format.js';

/**
 * @template T
 * @typedef {{ id: string, row: HTMLElement, item: T, onScreen: boolean }} Entry
 */

/**
 * A table body of rows keyed by peer id, kept sorted by id, that knows which rows are on screen
 * (an IntersectionObserver), so a table of thousands updates only what can be seen. The rows
 * are grid rows with `content-visibility: auto` (dashboard.css), not `<tr>`s: a changed cell
 * then lays out its own row, where a table lays out all of its rows again.
 * @template T
 */
export class KeyedRows {
  /**
   * @param {HTMLElement} body
   * @param {(entry: Entry<T>) => void} onScreen called when a row comes into view
   */
  constructor(body, onScreen) {
    this.body = body;
    /** @type {Map<string, Entry<T>>} */
    this.entries = new Map();
    /** @type {string[]} sorted ids */
    this.order = [];
    /** @type {WeakMap<Element, Entry<T>>} */
    this.byRow = new WeakMap();
    this.observer = new IntersectionObserver((changes) => {
      for (const change of changes) {
        const entry = this.byRow.get(change.target);
        if (!entry) continue;
        entry.onScreen = change.isIntersecting;
        if (entry.onScreen) onScreen(entry);
      }
    }, { rootMargin: '200px 0px' });
  }

  get size() {
    return this.entries.size;
  }

  /** @param {string} id */
  get(id) {
    return this.entries.get(id);
  }

  values() {
    return this.entries.values();
  }

  /**
   * Adds new rows in id order.
   * @param {Array<{ id: string, row: HTMLElement, item: T }>} added
   */
  add(added) {
    if (added.length === 0) return;
    const entries = added.map(({ id, row, item }) => ({ id, row, item, onScreen: false }));
    if (this.order.length === 0) {
      // The snapshot, or a first burst of joins: sort once, insert once.
      entries.sort((a, b) => compareIds(a.id, b.id));
      const fragment = document.createDocumentFragment();
      for (const entry of entries) {
        this.order.push(entry.id);
        fragment.append(entry.row);
        this.track(entry);
      }
      this.body.append(fragment);
      return;
    }
    for (const entry of entries) {
      const at = this.position(entry.id);
      const next = this.order[at];
      this.order.splice(at, 0, entry.id);
      this.body.insertBefore(entry.row, next === undefined ? null : this.entries.get(next)?.row ?? null);
      this.track(entry);
    }
  }

  /** @param {string} id */
  remove(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.observer.unobserve(entry.row);
    entry.row.remove();
    const at = this.position(id);
    if (this.order[at] === id) this.order.splice(at, 1);
  }

  clear() {
    this.observer.disconnect();
    this.entries.clear();
    this.order = [];
    this.body.replaceChildren();
  }

  /** @param {Entry<T>} entry */
  track(entry) {
    this.entries.set(entry.id, entry);
    this.byRow.set(entry.row, entry);
    this.observer.observe(entry.row);
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

// @ts-check
/** Numbers and times as the page shows them. */

/** A duration: `340 ms`, `2.4 s`, `3 min 5 s`, `1.5 h`. */
export function duration(/** @type {number} */ ms) {
  if (!Number.isFinite(ms)) return '–';
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  if (v < 3_600_000) return `${Math.floor(v / 60_000)} min ${Math.floor(v / 1000) % 60} s`;
  return `${(v / 3_600_000).toFixed(1)} h`;
}

/** An RTT in ms as the server rounds it (two significant digits), or a dash before the first ping/pong. */
export function rtt(/** @type {number | null | undefined} */ ms) {
  return ms === null || ms === undefined ? '–' : `${ms} ms`;
}

/** A time of day to the millisecond, in the viewer's time zone. */
export function clock(/** @type {number} */ at) {
  const d = new Date(at);
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

const collator = new Intl.Collator(undefined, { numeric: true });

/**
 * Sorts peer ids as people read them (`peer-2` before `peer-10`), and never calls two different
 * ids equal (a collator may), so a binary search finds each one.
 */
export function byId(/** @type {string} */ a, /** @type {string} */ b) {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

// @ts-check
import { el, statusClass } from './dom.js';
import { clock } from './format.js';

/**
 * @typedef {{ scope: 'local' | 'cluster', type: string, id: string, status: string, at: number,
 *   reason?: string, replicaId?: string, address?: string }} EventRow
 */

/** Entries kept on the page; older ones are dropped. */
const MAX_ENTRIES = 500;
const TYPE_STATUS = { joined: 'alive', recovered: 'alive', suspect: 'suspect', lost: 'lost', left: 'left' };

/** The live event log, newest first. */
export class EventLog {
  /** @param {HTMLOListElement} list */
  constructor(list) {
    this.list = list;
  }

  /** @param {EventRow[]} events oldest first */
  reset(events) {
    this.list.replaceChildren();
    this.add(events);
  }

  /** @param {EventRow[]} events oldest first */
  add(events) {
    const fresh = events.slice(-MAX_ENTRIES);
    const fragment = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i--) fragment.append(entry(fresh[i]));
    this.list.prepend(fragment);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.lastElementChild?.remove();
  }
}

/** @param {EventRow} event */
function entry(event) {
  const li = el('li', `event ${event.scope}`);
  const kind = /** @type {Record<string, string>} */ (TYPE_STATUS)[event.type] ?? event.status;
  const time = el('time', 'at', clock(event.at));
  time.dateTime = new Date(event.at).toISOString();
  const details = [];
  if (event.reason) details.push(event.reason);
  if (event.address) details.push(`from ${event.address}`);
  if (event.replicaId) details.push(`replica ${event.replicaId}`);
  li.append(
    time,
    el('span', `badge status-${statusClass(kind)}`, event.scope === 'cluster' ? `cluster ${event.type}` : event.type),
    el('span', 'who', event.id),
    el('span', 'detail', details.join(' · ')),
  );
  return li;
}

// @ts-check
import { cell, el, renderMetadata, setClass, setText, statusClass } from './dom.js';
import { clock } from './format.js';
import { VirtualRows } from './virtual-rows.js';

/**
 * @typedef {{ id: string, nodeId: string, metadata: Record<string, string>, startedAt: number, self: boolean }} Replica
 * @typedef {{ replicaId: string, status: string, direction: string, address: string, since: number }} Holding
 * @typedef {{ id: string, status: string, metadata: Record<string, string>, replicas: Holding[], since: number, reason?: string }} ClusterRow
 * @typedef {{ status?: string, replicas?: Replica[], upsert: ClusterRow[], remove: string[] }} ClusterDiff
 * @typedef {{ id: string, row: ClusterRow, cells?: HTMLElement[] }} Item `cells`: once its row was first shown
 */

/** The merged cluster view: Redis status, the live replicas, and every peer with the replicas that hold it. */
export class ClusterView {
  /**
   * @param {HTMLElement} section
   * @param {import('./filters.js').Filters} filters
   */
  constructor(section, filters) {
    this.section = section;
    this.filters = filters;
    this.status = /** @type {HTMLElement} */ (section.querySelector('#cluster-status'));
    this.replicaList = /** @type {HTMLElement} */ (section.querySelector('#replicas'));
    /** @type {VirtualRows<Item>} */
    this.rows = new VirtualRows(/** @type {HTMLElement} */ (section.querySelector('#cluster-peers .body')), (item) => {
      const row = el('div', 'row');
      row.setAttribute('role', 'row');
      item.cells = [cell('id'), cell('status'), cell('held'), cell('since'), cell('metadata')];
      row.append(...item.cells);
      this.draw(item);
      return row;
    }, () => undefined);
    /** @type {Map<string, Replica>} */
    this.replicas = new Map();
  }

  /** @param {{ status: string, replicas: Replica[], peers: ClusterRow[] } | undefined} snapshot */
  reset(snapshot) {
    this.rows.clear();
    this.section.hidden = snapshot === undefined;
    if (!snapshot) return;
    this.apply({ status: snapshot.status, replicas: snapshot.replicas, upsert: snapshot.peers, remove: [] });
  }

  /** @param {ClusterDiff} diff */
  apply(diff) {
    if (diff.status !== undefined) {
      setText(this.status, diff.status);
      setClass(this.status, `badge cluster-${diff.status === 'connected' ? 'connected' : 'degraded'}`);
    }
    if (diff.replicas !== undefined) {
      this.replicas = new Map(diff.replicas.map((r) => [r.id, r]));
      this.drawReplicas();
      // Holdings name replicas by id: redraw them with the new names.
      for (const item of this.rows.values()) this.draw(item);
    }
    for (const id of diff.remove) this.rows.remove(id);
    const added = [];
    for (const row of diff.upsert) {
      const item = this.rows.get(row.id);
      if (item) {
        item.row = row;
        this.draw(item);
      } else {
        const fresh = { id: row.id, row };
        this.draw(fresh);
        added.push(fresh);
      }
    }
    this.rows.add(added);
  }

  refilter() {
    for (const item of this.rows.values()) this.draw(item);
  }

  drawReplicas() {
    const items = [...this.replicas.values()].map((replica) => {
      const li = el('li', replica.self ? 'replica self' : 'replica');
      li.append(el('span', 'node', replica.nodeId), el('span', 'rid', replica.id),
        el('span', 'started', `since ${clock(replica.startedAt)}`));
      if (replica.self) li.append(el('span', 'badge self', 'this process'));
      return li;
    });
    this.replicaList.replaceChildren(...items);
  }

  /** Its filter state, and its row if shown once. @param {Item} item */
  draw(item) {
    const { row, cells } = item;
    this.rows.setHidden(row.id, !this.filters.matches(row.id, row.status, row.metadata));
    if (!cells) return;
    const [id, status, held, since, metadata] = cells;
    setText(id, row.id);
    if (id.title !== row.id) id.title = row.id;
    const badge = el('span', `badge status-${statusClass(row.status)}`, row.status);
    status.replaceChildren(badge, ...(row.status === 'lost' && row.reason ? [el('span', 'reason', row.reason)] : []));
    held.replaceChildren(...row.replicas.map((holding) => {
      const replica = this.replicas.get(holding.replicaId);
      const chip = el('span', `holding status-${statusClass(holding.status)}`);
      chip.title = `${holding.replicaId}: ${holding.status}, ${holding.direction} from ${holding.address}`;
      chip.append(el('span', 'node', replica ? replica.nodeId : holding.replicaId),
        el('span', 'what', ` ${holding.status}${replica?.self ? ' (this process)' : ''}`));
      return chip;
    }));
    setText(since, clock(row.since));
    renderMetadata(metadata, row.metadata);
  }
}

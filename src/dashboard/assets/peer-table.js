// @ts-check
import { cell, el, renderMetadata, setClass, setText, statusClass } from './dom.js';
import { duration, rtt as formatRtt } from './format.js';
import { KeyedRows } from './keyed-rows.js';
import { addSample, drawSparkline, sparkline } from './sparkline.js';

/**
 * @typedef {{ id: string, status: string, direction: string, managed: boolean, address: string,
 *   metadata: Record<string, string>, connectedAt: number, reason?: string }} PeerRow
 * @typedef {[string, number, number | null]} Beat
 * @typedef {{ row: HTMLElement, id: HTMLElement, badge: HTMLElement, reason: HTMLElement, rtt: HTMLElement, spark: SVGSVGElement,
 *   heard: HTMLElement, direction: HTMLElement, managed: HTMLElement, address: HTMLElement, metadata: HTMLElement }} Cells
 * @typedef {{ row: PeerRow, metadataJson: string, lastSeenAt: number, rttMs: number | null, samples: number[], cells: Cells }} Peer
 */

/** The local peer table: rows by id; the beat columns (RTT, last heard) drawn only for rows on screen. */
export class PeerTable {
  /**
   * @param {HTMLElement} table a `.grid` with a `.body`
   * @param {HTMLElement} emptyNote
   * @param {import('./filters.js').Filters} filters
   */
  constructor(table, emptyNote, filters) {
    /** @type {KeyedRows<Peer>} */
    this.rows = new KeyedRows(/** @type {HTMLElement} */ (table.querySelector('.body')), (entry) => this.drawBeat(entry.item));
    this.emptyNote = emptyNote;
    this.filters = filters;
    /** The server's clock minus ours, from the last pulse: "last heard" is measured on the server's clock. */
    this.offset = 0;
    this.shown = 0;
  }

  /**
   * @param {PeerRow[]} peers
   * @param {Beat[]} beats
   * @param {Array<[string, number[]]>} rtt
   * @param {number} now
   */
  reset(peers, beats, rtt, now) {
    this.rows.clear();
    this.offset = now - Date.now();
    const samples = new Map(rtt);
    this.rows.add(peers.map((row) => {
      const peer = this.create(row);
      peer.samples = samples.get(row.id)?.slice() ?? [];
      return { id: row.id, row: peer.cells.row, item: peer };
    }));
    this.applyBeats(beats, false);
    this.refresh();
  }

  /** @param {PeerRow[]} rows */
  upsert(rows) {
    const added = [];
    for (const row of rows) {
      const entry = this.rows.get(row.id);
      if (entry) {
        this.drawRow(entry.item, row);
      } else {
        const peer = this.create(row);
        added.push({ id: row.id, row: peer.cells.row, item: peer });
      }
    }
    this.rows.add(added);
    this.refresh();
  }

  /** @param {string[]} ids */
  remove(ids) {
    for (const id of ids) this.rows.remove(id);
    this.refresh();
  }

  /** @param {Beat[]} beats @param {number} now */
  pulse(beats, now) {
    this.offset = now - Date.now();
    this.applyBeats(beats, true);
    for (const entry of this.rows.values()) if (entry.onScreen) this.drawBeat(entry.item);
  }

  /** The filters changed. */
  refilter() {
    for (const entry of this.rows.values()) this.drawRow(entry.item, entry.item.row);
    this.refresh();
  }

  /** How many peers per status, shown or not. */
  counts() {
    /** @type {Record<string, number>} */
    const counts = { alive: 0, suspect: 0, lost: 0, left: 0 };
    for (const entry of this.rows.values()) counts[entry.item.row.status] = (counts[entry.item.row.status] ?? 0) + 1;
    return counts;
  }

  /** @param {Beat[]} beats @param {boolean} sample */
  applyBeats(beats, sample) {
    for (const [id, lastSeenAt, rttMs] of beats) {
      const peer = this.rows.get(id)?.item;
      if (!peer) continue;
      peer.lastSeenAt = lastSeenAt;
      peer.rttMs = rttMs;
      // One sample per pulse in which the peer was heard, as the server keeps them.
      if (sample && rttMs !== null) addSample(peer.samples, rttMs);
    }
  }

  /** @param {PeerRow} row @returns {Peer} */
  create(row) {
    const tr = el('div', 'row');
    tr.setAttribute('role', 'row');
    const status = cell('status');
    const badge = el('span');
    const reason = el('span', 'reason');
    status.append(badge, reason);
    const rttCell = cell('rtt');
    const rttValue = el('span', 'value');
    const spark = sparkline();
    rttCell.append(rttValue, spark);
    /** @type {Cells} */
    const cells = {
      row: tr, id: cell('id'), badge, reason, rtt: rttValue, spark, heard: cell('heard'),
      direction: cell('direction'), managed: cell('managed'), address: cell('address'), metadata: cell('metadata'),
    };
    tr.append(cells.id, status, rttCell, cells.heard, cells.direction, cells.managed, cells.address, cells.metadata);
    /** @type {Peer} */
    const peer = { row, metadataJson: '', lastSeenAt: row.connectedAt, rttMs: null, samples: [], cells };
    this.drawRow(peer, row);
    return peer;
  }

  /** The columns that change with events; the row's visibility under the filters. @param {Peer} peer @param {PeerRow} row */
  drawRow(peer, row) {
    peer.row = row;
    const { cells } = peer;
    setText(cells.id, row.id);
    setClass(cells.badge, `badge status-${statusClass(row.status)}`);
    setText(cells.badge, row.status);
    setText(cells.reason, row.status === 'lost' && row.reason ? row.reason : '');
    setText(cells.direction, row.direction);
    setText(cells.managed, row.managed ? 'yes' : 'no');
    const managedNote = row.managed ? '' : 'a stock ClientTCP: no heartbeats, kernel keepalive only';
    if (cells.managed.title !== managedNote) cells.managed.title = managedNote;
    setText(cells.address, row.address);
    const metadataJson = JSON.stringify(row.metadata);
    if (metadataJson !== peer.metadataJson) {
      peer.metadataJson = metadataJson;
      renderMetadata(cells.metadata, row.metadata);
    }
    const tr = cells.row;
    tr.classList.toggle('departed', row.status === 'lost' || row.status === 'left');
    const hidden = !this.filters.matches(row.id, row.status, row.metadata);
    if (tr.hidden !== hidden) tr.hidden = hidden;
  }

  /** RTT, sparkline, last heard. @param {Peer} peer */
  drawBeat(peer) {
    const { cells } = peer;
    setText(cells.rtt, formatRtt(peer.rttMs));
    drawSparkline(cells.spark, peer.samples);
    setText(cells.heard, `${duration(Date.now() + this.offset - peer.lastSeenAt)} ago`);
  }

  refresh() {
    let shown = 0;
    for (const entry of this.rows.values()) if (!entry.row.hidden) shown++;
    this.shown = shown;
    this.emptyNote.hidden = this.rows.size > 0;
  }
}

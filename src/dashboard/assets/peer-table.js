// @ts-check
import { cell, el, renderMetadata, setClass, setText, statusClass } from './dom.js';
import { duration, rtt as formatRtt } from './format.js';
import { addSample, drawSparkline, sparkline } from './sparkline.js';
import { VirtualRows } from './virtual-rows.js';

/**
 * @typedef {{ id: string, n: number, status: string, direction: string, managed: boolean, address: string,
 *   metadata: Record<string, string>, connectedAt: number, reason?: string }} PeerRow
 * @typedef {{ at: number, heard: number[], silent: number[], rtt?: number[] }} Beats (dashboard-beats.ts; `rtt` on RTT rounds)
 * @typedef {{ row: HTMLElement, id: HTMLElement, badge: HTMLElement, reason: HTMLElement, rtt: HTMLElement, spark: SVGSVGElement,
 *   heard: HTMLElement, direction: HTMLElement, managed: HTMLElement, address: HTMLElement, metadata: HTMLElement }} Cells
 * @typedef {{ id: string, row: PeerRow, metadataJson: string, silent: boolean, lastSeenAt: number, rttMs: number | null,
 *   samples: number[], cells?: Cells, drawn: number }} Peer
 *   `cells`: once its row was first shown; `drawn`: the pulse its beat columns were last drawn for
 */

/**
 * The local peer table: peers by id, the rows on screen in the document (virtual-rows.js), their
 * beat columns (RTT, sparkline, last heard) drawn at each pulse and as rows come into view.
 */
export class PeerTable {
  /**
   * @param {HTMLElement} table a `.grid` with a `.body`
   * @param {HTMLElement} emptyNote
   * @param {import('./filters.js').Filters} filters
   */
  constructor(table, emptyNote, filters) {
    /** @type {VirtualRows<Peer>} */
    this.rows = new VirtualRows(/** @type {HTMLElement} */ (table.querySelector('.body')), (peer) => this.createRow(peer), (peer) => {
      if (peer.drawn !== this.generation) this.drawBeat(peer);
    });
    this.emptyNote = emptyNote;
    this.filters = filters;
    /** The server's clock minus ours, from the last pulse: "last heard" is measured on the server's clock. */
    this.offset = 0;
    /** @type {Map<number, Peer>} peers by their row's `n`, as beats name them */
    this.byKey = new Map();
    /** Heard within this long: shown as "< recentMs ago" (the server sends exact times of silences only). */
    this.recentMs = 1000;
    /** Counts pulses: a row shown whose beat was drawn for an older one is drawn again. */
    this.generation = 0;
  }

  /**
   * @param {{ now: number, self: { recentMs: number }, peers: PeerRow[], beats: Beats, samples: Array<[number, number[]]> }} snapshot
   */
  reset({ now, self, peers, beats, samples }) {
    this.rows.clear();
    this.byKey.clear();
    this.offset = now - Date.now();
    this.recentMs = self.recentMs;
    const history = new Map(samples);
    this.rows.add(peers.map((row) => {
      const peer = this.create(row);
      peer.samples = history.get(row.n)?.slice() ?? [];
      return peer;
    }));
    this.applyBeats(beats);
    this.generation++;
    this.refresh();
  }

  /** @param {PeerRow[]} rows */
  upsert(rows) {
    const added = [];
    for (const row of rows) {
      const peer = this.rows.get(row.id);
      if (peer) this.update(peer, row);
      else added.push(this.create(row));
    }
    this.rows.add(added);
    this.refresh();
  }

  /** @param {string[]} ids */
  remove(ids) {
    for (const id of ids) {
      const peer = this.rows.get(id);
      if (peer && this.byKey.get(peer.row.n) === peer) this.byKey.delete(peer.row.n);
      this.rows.remove(id);
    }
    this.refresh();
  }

  /** @param {Beats & { now: number }} pulse */
  pulse(pulse) {
    this.offset = pulse.now - Date.now();
    this.applyBeats(pulse);
    if (pulse.rtt) {
      // An RTT round: one sample for each peer heard lately, as the server keeps them.
      for (const peer of this.rows.values()) if (peer.rttMs !== null && !peer.silent) addSample(peer.samples, peer.rttMs);
    }
    this.generation++;
    for (const peer of this.rows.onScreen()) this.drawBeat(peer);
  }

  /** Each second: the age of the silent peers on screen (the server sent when they went silent, once). */
  tick() {
    for (const peer of this.rows.onScreen()) if (peer.silent) this.drawHeard(peer);
  }

  /** The filters changed. */
  refilter() {
    for (const peer of this.rows.values()) this.rows.setHidden(peer.id, !this.filters.matches(peer.id, peer.row.status, peer.row.metadata));
    this.refresh();
  }

  /** How many peers per status, shown or not. */
  counts() {
    /** @type {Record<string, number>} */
    const counts = { alive: 0, suspect: 0, lost: 0, left: 0 };
    for (const peer of this.rows.values()) counts[peer.row.status] = (counts[peer.row.status] ?? 0) + 1;
    return counts;
  }

  /** How many peers the filters let through. */
  get shown() {
    return this.rows.visible().length;
  }

  /** @param {Beats} beats */
  applyBeats({ at, heard, silent, rtt }) {
    for (const n of heard) {
      const peer = this.byKey.get(n);
      if (peer) peer.silent = false;
    }
    for (let i = 0; i + 1 < silent.length; i += 2) {
      const peer = this.byKey.get(silent[i]);
      if (!peer) continue;
      peer.silent = true;
      peer.lastSeenAt = at - silent[i + 1];
    }
    if (!rtt) return;
    for (let i = 0; i + 1 < rtt.length; i += 2) {
      const peer = this.byKey.get(rtt[i]);
      if (peer) peer.rttMs = rtt[i + 1];
    }
  }

  /** A peer, without its row element yet. @param {PeerRow} row @returns {Peer} */
  create(row) {
    /** @type {Peer} */
    const peer = { id: row.id, row, metadataJson: '', silent: false, lastSeenAt: row.connectedAt, rttMs: null, samples: [], drawn: -1 };
    this.update(peer, row);
    return peer;
  }

  /** New data for a peer: its key, its filter state, its row if shown once. @param {Peer} peer @param {PeerRow} row */
  update(peer, row) {
    if (peer.row.n !== row.n && this.byKey.get(peer.row.n) === peer) this.byKey.delete(peer.row.n);
    peer.row = row;
    this.byKey.set(row.n, peer);
    this.rows.setHidden(peer.id, !this.filters.matches(row.id, row.status, row.metadata));
    if (peer.cells) this.drawRow(peer);
  }

  /** @param {Peer} peer */
  createRow(peer) {
    const row = el('div', 'row');
    row.setAttribute('role', 'row');
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
      row, id: cell('id'), badge, reason, rtt: rttValue, spark, heard: cell('heard'),
      direction: cell('direction'), managed: cell('managed'), address: cell('address'), metadata: cell('metadata'),
    };
    row.append(cells.id, status, rttCell, cells.heard, cells.direction, cells.managed, cells.address, cells.metadata);
    peer.cells = cells;
    this.drawRow(peer);
    return row;
  }

  /** The columns that change with events. @param {Peer} peer */
  drawRow(peer) {
    const { row } = peer;
    const cells = /** @type {Cells} */ (peer.cells);
    setText(cells.id, row.id);
    if (cells.id.title !== row.id) cells.id.title = row.id;
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
    cells.row.classList.toggle('departed', row.status === 'lost' || row.status === 'left');
  }

  /** RTT, sparkline, last heard. @param {Peer} peer */
  drawBeat(peer) {
    const cells = peer.cells;
    if (!cells) return;
    peer.drawn = this.generation;
    setText(cells.rtt, formatRtt(peer.rttMs));
    drawSparkline(cells.spark, peer.samples);
    this.drawHeard(peer);
  }

  /** @param {Peer} peer */
  drawHeard(peer) {
    if (!peer.cells) return;
    setText(peer.cells.heard, peer.silent ? `${duration(Date.now() + this.offset - peer.lastSeenAt)} ago` : `< ${duration(this.recentMs)} ago`);
  }

  refresh() {
    this.emptyNote.hidden = this.rows.size > 0;
  }
}

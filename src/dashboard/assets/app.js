// @ts-check
/**
 * The presence page: one EventSource on `../events`; a snapshot first, then updates. One timer
 * of its own: the ages of silent peers count up each second. Everything a peer supplies
 * goes into the DOM as text (see dom.js).
 */
import { ClusterView } from './cluster-view.js';
import { byId, setText } from './dom.js';
import { EventLog } from './event-log.js';
import { Filters } from './filters.js';
import { duration } from './format.js';
import { PeerTable } from './peer-table.js';

const filters = new Filters(/** @type {HTMLFormElement} */ (byId('filters')), () => {
  peers.refilter();
  cluster.refilter();
  header();
});
const peers = new PeerTable(/** @type {HTMLTableElement} */ (byId('peers')), byId('peers-empty'), filters);
const cluster = new ClusterView(byId('cluster'), filters);
const log = new EventLog(/** @type {HTMLOListElement} */ (byId('events')));
const connection = byId('connection');

function header() {
  const counts = peers.counts();
  setText(byId('counts'), Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(' · '));
  setText(byId('shown'), peers.shown === peers.rows.size ? '' : `showing ${peers.shown} of ${peers.rows.size} peers`);
}

const STATES = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'connection lost, reconnecting…',
  closed: 'disconnected: reload the page to retry',
};

/** @param {keyof STATES} state */
function connectionState(state) {
  connection.dataset.state = state;
  setText(connection, STATES[state]);
}

/** @param {string} type @param {(data: any) => void} handle */
function on(type, handle) {
  source.addEventListener(type, (event) => {
    handle(JSON.parse(/** @type {MessageEvent} */ (event).data));
  });
}

const source = new EventSource(new URL('../events', import.meta.url));
source.addEventListener('open', () => connectionState('live'));
// CLOSED: the server refused the stream (a guard, a restart without the page); the browser will not retry.
source.addEventListener('error', () => connectionState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));

on('snapshot', (snapshot) => {
  connectionState('live');
  const { self } = snapshot;
  setText(byId('self-node'), self.nodeId ?? '');
  setText(byId('self-timing'), self.intervalMs === undefined ? ''
    : `heartbeat every ${duration(self.intervalMs)}, lost after ${duration(self.lostAfterMs)} of silence`);
  peers.reset(snapshot);
  cluster.reset(snapshot.cluster);
  log.reset(snapshot.events);
  header();
});
on('update', (update) => {
  if (update.peers) {
    peers.remove(update.peers.remove);
    peers.upsert(update.peers.upsert);
    header();
  }
  if (update.cluster) cluster.apply(update.cluster);
  if (update.events) log.add(update.events);
  if (update.pulse) peers.pulse(update.pulse);
});
setInterval(() => peers.tick(), 1000);

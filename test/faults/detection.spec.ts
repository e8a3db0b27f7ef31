/**
 * Fault lab (issue 4), process faults: a real peer app in a child process is shut down,
 * killed, hung or hung-then-resumed, and the side in this process must notice within the
 * contract's bounds (API.md, Timing), in both directions.
 *
 * Detection time = the event reaching the test − the instant the fault was inflicted, both on
 * the test's clock. For the silence verdicts the contract stretches thresholds by this
 * process's own loop stalls, so the bound printed and asserted is `(missedBeats + 1) ×
 * intervalMs` plus the stall the test itself measured (normally 0).
 */
import { killAllPeers } from '../support/peer-process.js';
import { report, sleep, verdictWindow } from './support/harness.js';
import { DIRECTIONS, startRig, type Rig } from './support/rig.js';

const FAST = { intervalMs: 200, missedBeats: 3 };
const DEFAULTS = { intervalMs: 1000, missedBeats: 3 };
/** (missedBeats + 1) × intervalMs: the contract's bound after the fault. */
const silenceBound = (hb: { intervalMs: number; missedBeats: number }) => (hb.missedBeats + 1) * hb.intervalMs;


let rig: Rig | undefined;

afterEach(async () => {
  await killAllPeers();
  await rig?.local.close();
  rig = undefined;
});

describe.each(DIRECTIONS)('%s', (direction) => {
  const who = direction === 'server detects client' ? 'client' : 'server';

  test(`graceful shutdown of the ${who}: left within 100 ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST });
    const { local, peer, peerId } = rig;
    const t0 = local.now(); // the test's clock, the one events are stamped with on arrival
    peer.command({ cmd: 'close' });
    const left = await local.next('left', peerId, t0, 5_000);
    const ms = left.seenAt - t0;
    report(`graceful shutdown: ${direction} left in ${Math.round(ms)} ms (bound 100)`);
    expect(ms).toBeLessThanOrEqual(100);
    await peer.exited;
    expect(local.count('lost', peerId)).toBe(0);
    expect(local.presence.get(peerId)?.status).toBe('left');
  }, 30_000);

  test(`SIGKILL of the ${who}: lost (closed-without-goodbye or connection-reset) within 200 ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST });
    const { local, peer, peerId } = rig;
    const t0 = local.now(); // the test's clock, the one events are stamped with on arrival
    peer.signal('SIGKILL');
    const lost = await local.next('lost', peerId, t0, 5_000);
    const ms = lost.seenAt - t0;
    report(`SIGKILL: ${direction} lost (${lost.reason}) in ${Math.round(ms)} ms (bound 200)`);
    expect(['closed-without-goodbye', 'connection-reset']).toContain(lost.reason);
    expect(ms).toBeLessThanOrEqual(200);
    expect(local.count('left', peerId)).toBe(0);
  }, 30_000);

  test(`SIGSTOP of the ${who} (hung), intervalMs ${FAST.intervalMs}: lost heartbeat-timeout within ${silenceBound(FAST)} ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST });
    const { local, peer, peerId } = rig;
    await sleep(3 * FAST.intervalMs); // a few beats of steady state
    const t0 = local.now(); // the test's clock, the one events are stamped with on arrival
    local.markFault(t0 - FAST.intervalMs);
    peer.signal('SIGSTOP');
    const lost = await local.next('lost', peerId, t0, 10_000);
    const suspect = await local.next('suspect', peerId, t0, 0);
    const { ms, bound, earliest } = verdictWindow(lost, t0, FAST);
    report(`SIGSTOP (${FAST.intervalMs} ms × ${FAST.missedBeats}): ${direction} detected in ${Math.round(ms)} ms (window ${earliest}–${bound}${lost.stallMs ? `, incl. ${Math.ceil(lost.stallMs)} ms own-loop stall` : ''}); suspect after ${Math.round(suspect.seenAt - t0)} ms`);
    expect(lost.reason).toBe('heartbeat-timeout');
    expect(suspect.seenAt).toBeLessThanOrEqual(lost.seenAt);
    expect(ms).toBeLessThanOrEqual(bound);
    expect(ms).toBeGreaterThan(earliest); // not early
  }, 30_000);

  test(`hung ${who} resumed (SIGSTOP, SIGCONT after 1.5 intervals): suspect then recovered, never lost`, async () => {
    const hb = FAST;
    rig = await startRig(direction, { heartbeat: hb });
    const { local, peer, peerId } = rig;
    await sleep(3 * hb.intervalMs);
    const t0 = local.now(); // the test's clock, the one events are stamped with on arrival
    peer.signal('SIGSTOP');
    // SIGCONT 1.5 intervals after the stop; the suspect verdict needs 1.5 intervals of silence
    // since the last frame heard, so if that frame came just before the stop, wait for the verdict.
    await sleep(1.5 * hb.intervalMs + 1); // + 1: timers run on a whole-millisecond clock
    const suspect = await local.next('suspect', peerId, t0, 5 * hb.intervalMs);
    const tCont = local.now();
    peer.signal('SIGCONT');
    const recovered = await local.next('recovered', peerId, t0, 10_000);
    // Watch long past the point where a missed recovery would have been a loss.
    await sleep(2 * silenceBound(hb));
    report(`SIGSTOP then SIGCONT after ${Math.round(tCont - t0)} ms (${hb.intervalMs} ms × ${hb.missedBeats}): ${direction} suspect at +${Math.round(suspect.seenAt - t0)} ms, recovered at +${Math.round(recovered.seenAt - t0)} ms, no lost`);
    expect(tCont - t0).toBeGreaterThanOrEqual(1.5 * hb.intervalMs);
    expect(recovered.seenAt).toBeGreaterThanOrEqual(tCont);
    expect(local.count('lost', peerId)).toBe(0);
    expect(local.count('joined', peerId)).toBe(1); // the same link recovered; no reconnect
    expect(local.presence.get(peerId)?.status).toBe('alive');
    // The resumed peer (whose own loop was frozen) convicted nobody either.
    expect(peer.lines.filter((l) => l.evt === 'presence' && l.type === 'lost')).toEqual([]);
  }, 30_000);
});

test(`SIGSTOP at the defaults (${DEFAULTS.intervalMs} ms × ${DEFAULTS.missedBeats}): server detects client, lost heartbeat-timeout within ${silenceBound(DEFAULTS)} ms`, async () => {
  const direction = 'server detects client';
  rig = await startRig(direction, { heartbeat: {} });
  const { local, peer, peerId } = rig;
  await sleep(1.5 * DEFAULTS.intervalMs);
  const t0 = local.now(); // the test's clock, the one events are stamped with on arrival
  local.markFault(t0 - DEFAULTS.intervalMs);
  peer.signal('SIGSTOP');
  const lost = await local.next('lost', peerId, t0, 10_000);
  const { ms, bound, earliest } = verdictWindow(lost, t0, DEFAULTS);
  report(`SIGSTOP (defaults ${DEFAULTS.intervalMs} ms × ${DEFAULTS.missedBeats}): ${direction} detected in ${Math.round(ms)} ms (window ${earliest}–${bound}${lost.stallMs ? `, incl. ${Math.ceil(lost.stallMs)} ms own-loop stall` : ''})`);
  expect(lost.reason).toBe('heartbeat-timeout');
  expect(ms).toBeLessThanOrEqual(bound);
  expect(ms).toBeGreaterThan(earliest); // not early
}, 30_000);

/**
 * Fault lab (issue 4), process faults: a real peer app in a child process is shut down,
 * killed, hung or hung-then-resumed, and the side in this process must notice within the
 * contract's bounds (API.md, Timing), in both directions.
 *
 * Detection time = event `at` − the instant the fault was inflicted (same clock). For the
 * silence verdicts the contract stretches thresholds by this process's own loop stalls, so
 * the bound printed and asserted is `(missedBeats + 1) × intervalMs` plus the stall the
 * detector itself had recorded (normally 0).
 */
import { killAllPeers } from '../support/peer-process.js';
import { report, silenceAtVerdict, sleep } from './support/harness.js';
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
    const t0 = local.now(); // the detector's own clock, the one `at` is read from
    peer.command({ cmd: 'close' });
    const left = await local.next('left', peerId, t0, 5_000);
    const ms = left.at - t0;
    report(`graceful shutdown: ${direction} left in ${Math.round(ms)} ms (bound 100)`);
    expect(ms).toBeLessThanOrEqual(100);
    await peer.exited;
    expect(local.count('lost', peerId)).toBe(0);
    expect(local.presence.get(peerId)?.status).toBe('left');
  }, 30_000);

  test(`SIGKILL of the ${who}: lost (closed-without-goodbye or connection-reset) within 200 ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST });
    const { local, peer, peerId } = rig;
    const t0 = local.now(); // the detector's own clock, the one `at` is read from
    peer.signal('SIGKILL');
    const lost = await local.next('lost', peerId, t0, 5_000);
    const ms = lost.at - t0;
    report(`SIGKILL: ${direction} lost (${lost.reason}) in ${Math.round(ms)} ms (bound 200)`);
    expect(['closed-without-goodbye', 'connection-reset']).toContain(lost.reason);
    expect(ms).toBeLessThanOrEqual(200);
    expect(local.count('left', peerId)).toBe(0);
  }, 30_000);

  test(`SIGSTOP of the ${who} (hung), intervalMs ${FAST.intervalMs}: lost heartbeat-timeout within ${silenceBound(FAST)} ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST });
    const { local, peer, peerId } = rig;
    await sleep(3 * FAST.intervalMs); // a few beats of steady state
    const t0 = local.now(); // the detector's own clock, the one `at` is read from
    local.markFault(t0 - FAST.intervalMs);
    peer.signal('SIGSTOP');
    const lost = await local.next('lost', peerId, t0, 10_000);
    const suspect = await local.next('suspect', peerId, t0, 0);
    const ms = lost.at - t0;
    const bound = silenceBound(FAST) + Math.ceil(lost.stallMs);
    report(`SIGSTOP (${FAST.intervalMs} ms × ${FAST.missedBeats}): ${direction} detected in ${Math.round(ms)} ms (bound ${bound}${lost.stallMs ? `, incl. ${Math.ceil(lost.stallMs)} ms own-loop stall` : ''}); suspect after ${Math.round(suspect.at - t0)} ms; silence at verdict ${Math.round(silenceAtVerdict(lost, FAST).silence)} ms (threshold ${silenceAtVerdict(lost, FAST).threshold})`);
    expect(lost.reason).toBe('heartbeat-timeout');
    expect(suspect.at).toBeLessThanOrEqual(lost.at);
    expect(ms).toBeLessThanOrEqual(bound);
    const v = silenceAtVerdict(lost, FAST);
    expect(v.silence).toBeGreaterThan(v.threshold); // not early
    expect(v.silence).toBeLessThanOrEqual(v.latest);
  }, 30_000);

  test(`hung ${who} resumed (SIGSTOP, SIGCONT after 1.5 intervals): suspect then recovered, never lost`, async () => {
    const hb = FAST;
    rig = await startRig(direction, { heartbeat: hb });
    const { local, peer, peerId } = rig;
    await sleep(3 * hb.intervalMs);
    const t0 = local.now(); // the detector's own clock, the one `at` is read from
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
    report(`SIGSTOP then SIGCONT after ${Math.round(tCont - t0)} ms (${hb.intervalMs} ms × ${hb.missedBeats}): ${direction} suspect at +${Math.round(suspect.at - t0)} ms, recovered at +${Math.round(recovered.at - t0)} ms, no lost`);
    expect(tCont - t0).toBeGreaterThanOrEqual(1.5 * hb.intervalMs);
    expect(recovered.at).toBeGreaterThanOrEqual(suspect.at);
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
  const t0 = local.now(); // the detector's own clock, the one `at` is read from
  local.markFault(t0 - DEFAULTS.intervalMs);
  peer.signal('SIGSTOP');
  const lost = await local.next('lost', peerId, t0, 10_000);
  const ms = lost.at - t0;
  const bound = silenceBound(DEFAULTS) + Math.ceil(lost.stallMs);
  report(`SIGSTOP (defaults ${DEFAULTS.intervalMs} ms × ${DEFAULTS.missedBeats}): ${direction} detected in ${Math.round(ms)} ms (bound ${bound}${lost.stallMs ? `, incl. ${Math.ceil(lost.stallMs)} ms own-loop stall` : ''}); silence at verdict ${Math.round(silenceAtVerdict(lost, DEFAULTS).silence)} ms (threshold ${silenceAtVerdict(lost, DEFAULTS).threshold})`);
  expect(lost.reason).toBe('heartbeat-timeout');
  expect(ms).toBeLessThanOrEqual(bound);
  const v = silenceAtVerdict(lost, DEFAULTS);
  expect(v.silence).toBeGreaterThan(v.threshold); // not early
  expect(v.silence).toBeLessThanOrEqual(v.latest);
}, 30_000);

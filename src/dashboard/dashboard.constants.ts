/** Where the page is served when `path` is not given. */
export const DASHBOARD_DEFAULT_PATH = '/heartbeat';
/** The pulse: who went silent or was heard again goes to the open pages this often (dashboard-beats.ts). */
export const DASHBOARD_PULSE_MS = 1000;
/**
 * Every this many pulses, an RTT round (RTTs that changed, one sparkline sample per peer) and a
 * comparison of the whole table with what the pages hold, for what changes without an event
 * (a departed peer's expiry, a second link's address); events are sent at once.
 */
export const DASHBOARD_RTT_PULSES = 5;
/** Changes (events, joins, losses) go out at most this often, coalesced: a storm of 1,000 joins is one message. */
export const DASHBOARD_FLUSH_MS = 100;
/** Events a page opened late is shown. */
export const DASHBOARD_HISTORY_EVENTS = 200;
/** RTT samples kept per peer for the sparklines (one per RTT round in which the peer was heard lately: 2.5 min). */
export const DASHBOARD_RTT_SAMPLES = 30;
/** Loss reasons remembered (one per lost peer; the oldest is forgotten first). */
export const DASHBOARD_MAX_REASONS = 10_000;

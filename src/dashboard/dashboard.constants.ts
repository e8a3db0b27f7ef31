/** Where the page is served when `path` is not given. */
export const DASHBOARD_DEFAULT_PATH = '/heartbeat';
/** The pulse: last heard and RTT go to the open pages this often (and any missed change with them). */
export const DASHBOARD_PULSE_MS = 1000;
/** Changes (events, joins, losses) go out at most this often, coalesced: a storm of 1,000 joins is one message. */
export const DASHBOARD_FLUSH_MS = 100;
/** Events a page opened late is shown. */
export const DASHBOARD_HISTORY_EVENTS = 200;
/** RTT samples kept per peer for the sparklines (one per pulse in which the peer was heard). */
export const DASHBOARD_RTT_SAMPLES = 30;
/** Loss reasons remembered (one per lost peer; the oldest is forgotten first). */
export const DASHBOARD_MAX_REASONS = 10_000;

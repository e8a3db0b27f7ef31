/** What the B7 processes agree on. */
export const SERVER_NODE_ID = 'b7-server';
/** The shared token of scenarios (a) and (c): the attackers do not have it. */
export const AUTH_TOKEN = 'b7-not-for-attackers';

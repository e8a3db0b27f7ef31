/** The presence page's error texts. */

export const invalidDashboardOption = (name: string, rule: string, value: unknown) =>
  `nest-heartbeat: HeartbeatDashboardModule option "${name}" ${rule} (got ${typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value)})`;

export const noForRootAsync = () =>
  'nest-heartbeat: HeartbeatDashboardModule has no forRootAsync(); its path and guard make routes, which Nest fixes when the module is declared: use forRoot()';

export const noPresenceService = () =>
  'HeartbeatDashboardModule: no PresenceService in this application; import HeartbeatModule.forRoot() (or forRootAsync()) in it';

/**
 * `nest-heartbeat/dashboard`: the live presence page. A separate entry point, so an application
 * that does not import it never loads it: nothing in the package root imports this.
 */
export { HeartbeatDashboardModule } from './heartbeat-dashboard.module.js';
export type { HeartbeatDashboardOptions } from './dashboard-options.interface.js';
export { DASHBOARD_SECURITY_HEADERS } from './dashboard.controller.js';

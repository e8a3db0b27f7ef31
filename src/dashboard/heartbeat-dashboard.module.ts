import { Module, type DynamicModule } from '@nestjs/common';
import { DashboardAssets, SEGMENT } from './dashboard-assets.js';
import { dashboardController } from './dashboard.controller.js';
import { DASHBOARD_DEFAULT_PATH } from './dashboard.constants.js';
import { DashboardFeed } from './dashboard-feed.js';
import { DASHBOARD_OPTIONS_TYPE, DashboardConfigurableModule } from './dashboard.module-definition.js';
import { invalidDashboardOption, noDashboardForRootAsync } from '../common/heartbeat.messages.js';
import { PresenceHistory } from './presence-history.js';

/**
 * The live presence page (`nest-heartbeat/dashboard`) for an HTTP or hybrid Nest app: the peer
 * table, the event log and the cluster view, live over Server-Sent Events. Off unless imported;
 * read-only; behind `guard` when given.
 *
 * ```ts
 * @Module({ imports: [HeartbeatModule.forRoot({ … }), HeartbeatDashboardModule.forRoot({ guard: AdminGuard })] })
 * ```
 */
@Module({ providers: [PresenceHistory, DashboardFeed, DashboardAssets] })
export class HeartbeatDashboardModule extends DashboardConfigurableModule {
  /** Options: `path` (default `'/heartbeat'`), `guard` (default none). Checked here: a bad one throws. */
  static forRoot(options: typeof DASHBOARD_OPTIONS_TYPE = {}): DynamicModule {
    const path = dashboardPath(options.path);
    if (options.guard !== undefined && typeof options.guard !== 'function') {
      throw new TypeError(invalidDashboardOption('guard', 'must be a guard class (a CanActivate type)', options.guard));
    }
    const module = super.forRoot(options);
    return { ...module, controllers: [...(module.controllers ?? []), dashboardController(path, options.guard)] };
  }

  /** Not offered: the path and the guard are routes, fixed when the module is declared. */
  static forRootAsync(): never {
    throw new TypeError(noDashboardForRootAsync());
  }
}

/** `'/ops/heartbeat/'` → `'/ops/heartbeat'`, `'/'` → `''`; anything but unreserved URL characters is refused. */
export function dashboardPath(path: unknown = DASHBOARD_DEFAULT_PATH): string {
  if (typeof path !== 'string') throw new TypeError(invalidDashboardOption('path', 'must be a string', path));
  const segments = path.split('/').filter((s) => s !== '');
  if (!segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
    throw new TypeError(invalidDashboardOption('path', 'must be segments of letters, digits and ._~- separated by /', path));
  }
  return segments.length === 0 ? '' : `/${segments.join('/')}`;
}

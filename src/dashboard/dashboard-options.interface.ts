import type { CanActivate, Type } from '@nestjs/common';

/** Options of `HeartbeatDashboardModule.forRoot`. */
export interface HeartbeatDashboardOptions {
  /**
   * Where the page is served (after any global prefix): the page at `path`, its files under
   * `path/assets/`, its live stream at `path/events`. Segments of letters, digits and `._~-`.
   * Default `'/heartbeat'`.
   */
  path?: string;
  /**
   * A Nest guard class applied to every route of the page (page, files, stream), e.g. your
   * authentication. Resolved like any guard of a controller: its own dependencies must be
   * visible from this module (a global module, or `@Injectable()` with none). Default: none,
   * so anyone who can reach the HTTP port can read the page.
   */
  guard?: Type<CanActivate>;
}

import {
  applyDecorators, Controller, Get, Header, Inject, NotFoundException, Param, Req, Sse, StreamableFile, UseGuards,
  type CanActivate, type MessageEvent, type Type,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { DashboardAssets, pageBase } from './dashboard-assets.js';
import { DashboardFeed } from './dashboard-feed.js';

/**
 * Sent with the page and its files. The policy allows scripts and styles from this origin
 * only (no inline script, no `eval`), and Trusted Types make every HTML-parsing sink
 * (`innerHTML`…) throw: a peer-supplied string that slipped into markup could still not run.
 */
export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'", "trusted-types 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const SecurityHeaders = () => applyDecorators(...Object.entries(DASHBOARD_SECURITY_HEADERS).map(([name, value]) => Header(name, value)));

/** Express's and Fastify's requests both have these. */
interface PageRequest {
  originalUrl?: string;
  url?: string;
}

/** The page's routes; `dashboardController` gives it its path and guard. Read-only: GET only. */
export abstract class DashboardController {
  /** The configured path's last segment (`''` for `/`). */
  protected abstract readonly lastSegment: string;

  constructor(
    @Inject(DashboardFeed) private readonly feed: DashboardFeed,
    @Inject(DashboardAssets) private readonly assets: DashboardAssets,
  ) {}

  @Get()
  @SecurityHeaders()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(@Req() request: PageRequest): string {
    return this.assets.page(pageBase(request.originalUrl ?? request.url ?? '', this.lastSegment));
  }

  @Get('assets/:name')
  @SecurityHeaders()
  asset(@Param('name') name: string): StreamableFile {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException();
    return new StreamableFile(asset.body, { type: asset.type, length: asset.body.length });
  }

  @Sse('events')
  events(): Observable<MessageEvent> {
    return this.feed.connect();
  }
}

/** The page's controller at `path` (normalized: `/a/b`, or `''` for the root), behind `guard`. */
export function dashboardController(path: string, guard: Type<CanActivate> | undefined): Type<DashboardController> {
  const lastSegment = path.slice(path.lastIndexOf('/') + 1);
  class HeartbeatDashboardController extends DashboardController {
    protected readonly lastSegment = lastSegment;
  }
  Controller(path)(HeartbeatDashboardController);
  if (guard) UseGuards(guard)(HeartbeatDashboardController);
  return HeartbeatDashboardController;
}

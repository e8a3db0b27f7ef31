import { Injectable } from '@nestjs/common';
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';

/**
 * The page's files (`assets/`: plain HTML, CSS and JavaScript modules, no build step), read
 * once at start-up and served from memory. Beside the compiled module in `dist/` (the build
 * copies them) and beside the source in `src/`.
 */
const ASSETS_DIR = new URL('./assets/', import.meta.url);
const PAGE_FILE = 'index.html';
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface Asset {
  body: Buffer;
  type: string;
}

@Injectable()
export class DashboardAssets {
  private readonly files = new Map<string, Asset>();
  private readonly template: string;
  private readonly pages = new Map<string, string>();

  constructor() {
    for (const name of readdirSync(ASSETS_DIR)) {
      const type = CONTENT_TYPES[extname(name)];
      if (type) this.files.set(name, { body: readFileSync(new URL(name, ASSETS_DIR)), type });
    }
    this.template = readFileSync(new URL(PAGE_FILE, ASSETS_DIR), 'utf8');
  }

  /** A file of the page by its name (`app.js`), or undefined: only the files shipped are served. */
  get(name: string): Asset | undefined {
    return this.files.get(name);
  }

  /** The page, its links relative to `base` (see `pageBase`). */
  page(base: string): string {
    let page = this.pages.get(base);
    if (page === undefined) {
      page = this.template.replaceAll('%BASE%', escapeHtml(base));
      if (this.pages.size < 8) this.pages.set(base, page); // a handful of spellings of one path
    }
    return page;
  }
}

/**
 * Where the page's files are, relative to the address the page was loaded from, so a global
 * prefix or a proxy in front changes nothing: `/ops/heartbeat` → `./heartbeat/`,
 * `/ops/heartbeat/` → `./`. `lastSegment` is the configured path's last segment (empty for `/`).
 */
export function pageBase(requestUrl: string, lastSegment: string): string {
  const path = requestUrl.split(/[?#]/, 1)[0];
  if (path.endsWith('/')) return './';
  const segment = lastSegment || path.slice(path.lastIndexOf('/') + 1);
  return SEGMENT.test(segment) ? `./${segment}/` : './';
}

/** What `HeartbeatDashboardModule` accepts in a path segment (RFC 3986 unreserved characters). */
export const SEGMENT = /^[A-Za-z0-9._~-]+$/;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

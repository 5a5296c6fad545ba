import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The dashboard's files: the page and its script and styles from `web/` (shipped in the
 * deployment package next to `package.json`), and uPlot from its npm package. Nothing else is
 * served, and nothing is fetched from elsewhere.
 */
const require = createRequire(import.meta.url);

/** The app's root: the nearest folder up from this module with package.json and web/ (source or dist/). */
function appRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'web', 'index.html'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('web/index.html not found above the dashboard module: is web/ deployed?');
    dir = up;
  }
}

const types = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const files: Record<string, { path: () => string; type: string }> = {
  '': { path: () => join(appRoot(), 'web', 'index.html'), type: types.html },
  'app.js': { path: () => join(appRoot(), 'web', 'app.js'), type: types.js },
  'app.css': { path: () => join(appRoot(), 'web', 'app.css'), type: types.css },
  'uPlot.iife.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: types.js },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: types.css },
};

export interface Asset {
  status: 200 | 404;
  headers: Record<string, string>;
  body: string;
}

const cache = new Map<string, Promise<string>>();

/** One of the dashboard's files by name (`''` for the page), kept in memory once read. */
export async function dashboardAsset(name: string): Promise<Asset> {
  const file = Object.hasOwn(files, name) ? files[name] : undefined;
  if (!file) {
    return {
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'NOT_FOUND', message: `The dashboard has no file '${name}'` }),
    };
  }
  let text = cache.get(name);
  if (!text) {
    text = readFile(file.path(), 'utf8');
    text.catch(() => cache.delete(name));
    cache.set(name, text);
  }
  return {
    status: 200,
    headers: {
      'content-type': file.type,
      'cache-control': name === '' ? 'no-cache' : 'public, max-age=300',
      'x-content-type-options': 'nosniff',
      // Only this app's own files and API: no CDN, no inline script.
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    },
    body: await text,
  };
}

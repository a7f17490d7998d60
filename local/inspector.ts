import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The inspector page's static files (local/inspector/), served by the local server at /inspector
 * without a key: the page holds no data, it asks the API with the key typed into it.
 */

const DIR = path.join(__dirname, 'inspector');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
};

/** The page may talk to any API (a deployed stack is another origin) but runs only its own files. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  'connect-src *',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface Asset {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The file a GET of `pathname` serves, or undefined when the path is not the inspector's. */
export function inspectorAsset(pathname: string): Asset | undefined {
  if (pathname !== '/inspector' && !pathname.startsWith('/inspector/')) return undefined;
  const name = pathname === '/inspector' || pathname === '/inspector/' ? 'index.html' : pathname.slice(11);
  // One flat folder, plain names only: no way out of it.
  const type = /^[a-z][a-z0-9-]*(\.[a-z]+)$/.exec(name)?.[1];
  const file = path.join(DIR, name);
  if (!type || !TYPES[type] || !fs.existsSync(file)) return undefined;
  return {
    status: 200,
    headers: {
      'content-type': TYPES[type],
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body: fs.readFileSync(file),
  };
}

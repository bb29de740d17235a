/**
 * Serves the web UI's files from one folder at `/` (GET only, no directory listing, nothing
 * outside the folder). Without the folder, `/` is a small placeholder page.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard</title></head>
<body><h1>Switchboard</h1>
<p>The web UI is not installed. The API is at <a href="/docs">/docs</a>; the statechart at
<code>/api/v1/statechart</code> (bearer token required).</p></body></html>
`;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function staticUiRoutes(app: FastifyInstance, root: string): Promise<void> {
  const present = await isDirectory(root);
  const base = normalize(root + sep);

  app.get('/*', { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
    if (!present) {
      const path = request.url.split('?')[0];
      if (path === '/' || path === '/index.html') return reply.type('text/html; charset=utf-8').send(PLACEHOLDER);
      throw new AppError('not_found');
    }
    const wanted = (request.params as { '*'?: string })['*'] ?? '';
    let relative: string;
    try {
      relative = decodeURIComponent(wanted);
    } catch {
      throw new AppError('bad_request', 'The path is not valid percent-encoding.');
    }
    if (relative.includes('\0')) throw new AppError('not_found');
    const file = normalize(join(base, relative === '' || relative.endsWith('/') ? join(relative, 'index.html') : relative));
    if (!file.startsWith(base)) throw new AppError('not_found');
    let body: Buffer;
    try {
      if (!(await stat(file)).isFile()) throw new AppError('not_found');
      body = await readFile(file);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('not_found');
    }
    return reply.type(TYPES[extname(file)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(body);
  });
}

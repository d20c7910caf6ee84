// The remote codec server (`lifeboat codec-server`): Temporal's HTTP codec protocol, so the Temporal UI
// and `temporal --codec-endpoint` show Lifeboat's encrypted history decoded, without the keys ever
// leaving this process. POST .../encode and .../decode take and return `{"payloads": [...]}` (Payload
// protobuf JSON: metadata values and data in base64); only the last path segment selects the operation,
// as the protocol asks. Every request carries the bearer token; browsers may call only from the
// configured UI origin (CORS). Nothing of a payload is logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from 'pino';
import { z } from 'zod';

/** Largest request body accepted: Temporal's own limit for one payload is 2 MiB, a batch may hold several. */
export const maxBodyBytes = 16 * 1024 * 1024;

/** The shortest token accepted: a guessable token would guard decrypted history. */
export const minTokenLength = 32;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token every request must carry. */
  token: string;
  /** The one origin browsers may call from; absent: no CORS headers, so no browser. */
  uiOrigin?: string;
  /** Also accept `/<token>/encode|decode` (a UI that cannot send a header). Default: false. */
  tokenInPath?: boolean;
  logger: Logger;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
const payloadsBody = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), base64).nullish(),
      data: base64.nullish(),
      externalPayloads: z.unknown().optional(),
    }),
  ),
});

const toPayload = ({ metadata, data }: z.infer<typeof payloadsBody>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});
const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Constant-time comparison of a presented token with the configured one (hashes: equal lengths). */
const sameToken = (presented: string | undefined, token: Buffer) => presented !== undefined && timingSafeEqual(digest(presented), token);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new HttpError(413, `request body over ${maxBodyBytes} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function createCodecServer(options: CodecServerOptions): Server {
  const { codec, uiOrigin, tokenInPath = false, logger } = options;
  if (options.token.length < minTokenLength)
    throw new Error(`the codec server's token has ${options.token.length} characters; expected at least ${minTokenLength}`);
  const token = digest(options.token);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<{ status: number; op?: string }> => {
    const origin = req.headers.origin;
    const fromUi = uiOrigin !== undefined && origin === uiOrigin;
    const cors: Record<string, string> = fromUi ? { 'access-control-allow-origin': uiOrigin, vary: 'Origin' } : { vary: 'Origin' };
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      req.resume(); // whatever of the body is unread is discarded
      res.writeHead(status, { ...cors, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
      return status;
    };
    const segments = new URL(req.url ?? '/', 'http://codec').pathname.split('/').filter(Boolean);
    const op = segments.at(-1);
    if (op !== 'encode' && op !== 'decode') return { status: send(404, { error: 'expected POST .../encode or .../decode' }) };
    if (req.method === 'OPTIONS') {
      // A preflight from any other origin gets no CORS headers: the browser then refuses the call.
      if (!fromUi) return { status: send(403, { error: `origin ${origin ?? '(none)'} is not allowed` }), op };
      return {
        status: send(204, undefined, {
          'access-control-allow-methods': 'POST, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type, x-namespace',
          'access-control-max-age': '600',
        }),
        op,
      };
    }
    if (req.method !== 'POST') return { status: send(405, { error: 'expected POST' }, { allow: 'POST, OPTIONS' }), op };
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    const inPath = tokenInPath && segments.length === 2 ? segments[0] : undefined;
    if (!sameToken(bearer, token) && !sameToken(inPath, token)) {
      return {
        status: send(401, { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer realm="lifeboat-codec"' }),
        op,
      };
    }
    let body: z.infer<typeof payloadsBody>;
    try {
      const parsed = payloadsBody.safeParse(JSON.parse((await readBody(req)).toString('utf8')));
      if (!parsed.success)
        throw new HttpError(400, `expected {"payloads": [{"metadata": {...}, "data": "..."}]}: ${z.prettifyError(parsed.error)}`);
      body = parsed.data;
    } catch (err) {
      if (err instanceof HttpError) return { status: send(err.status, { error: err.message }), op };
      return { status: send(400, { error: `not JSON: ${(err as Error).message}` }), op };
    }
    const payloads = body.payloads.map(toPayload);
    try {
      const result = op === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      return { status: send(200, { payloads: result.map(toJson) }), op };
    } catch (err) {
      return { status: send(422, { error: (err as Error).message }), op };
    }
  };

  return createServer((req, res) => {
    const started = Date.now();
    handle(req, res).then(
      ({ status, op }) =>
        logger.info(
          { method: req.method, op, status, namespace: req.headers['x-namespace'], origin: req.headers.origin, ms: Date.now() - started },
          'codec request',
        ),
      (err: unknown) => {
        logger.error({ err }, 'codec request failed');
        if (!res.headersSent) res.writeHead(500).end();
      },
    );
  });
}

// Plain HTTP(S) probes for lab status. Each answers with what it saw, never throws.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { describeNetworkError } from '../activities/network-errors.js';

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** For a component's self-signed serving certificate on loopback (controller-manager, scheduler). */
  insecure?: boolean;
}

/** GET `url`; ok when the status is 2xx. Connection errors are reported with their code. */
export function httpProbe(url: string, tls: TlsFiles = {}, timeoutMs = 3_000): Promise<ProbeResult & { body: string }> {
  return new Promise((resolve) => {
    const secure = url.startsWith('https:');
    const options = secure
      ? {
          ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
          cert: tls.certFile ? readFileSync(tls.certFile) : undefined,
          key: tls.keyFile ? readFileSync(tls.keyFile) : undefined,
          rejectUnauthorized: !tls.insecure,
          timeout: timeoutMs,
        }
      : { timeout: timeoutMs };
    const req = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += body.length < 65_536 ? chunk : ''));
      res.on('end', () => {
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        resolve({ ok, body, detail: ok ? 'ok' : `HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}` });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, body: '', detail: describeNetworkError(err) }));
    req.end();
  });
}

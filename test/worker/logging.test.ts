// The worker's pino logger redacts secrets at any depth (no lab: real pino, its output captured from a stream).
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger, temporalLogSink } from '../../worker/logging.js';

/** A logger writing into an array of parsed JSON lines. */
function captured() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('debug', stream), lines, text: () => JSON.stringify(lines) };
}

const secret = 'S3cr3t-value-that-must-not-appear';

describe('worker logging', () => {
  it('redacts secret fields at any depth, headers in any case, and kubeconfig credentials', () => {
    const { logger, lines, text } = captured();
    logger.info(
      {
        a: { b: { token: secret, tokenFile: '/etc/lifeboat/token', tokenEnv: 'LIFEBOAT_TOKEN' } },
        request: {
          headers: {
            authorization: `Bearer ${secret}`,
            Authorization: `Bearer ${secret}`,
            cookie: `s=${secret}`,
            'X-Api-Key': secret,
            accept: 'application/json',
          },
        },
        objectStore: {
          credentials: { accessKeyId: secret, secretAccessKey: secret, sessionToken: secret },
          key: 'etcd/primary/x/manifest.json',
        },
        kubeconfig: {
          users: [
            {
              name: 'u',
              user: { token: secret, 'client-key-data': secret, 'client-certificate-data': secret, keyData: secret, certData: secret },
            },
          ],
        },
        list: [[{ deeper: { password: secret, webhookSecret: secret } }]],
        url: `https://admin:${secret}@example.invalid/path`,
      },
      'calling the API',
    );
    const [line] = lines;
    expect(text()).not.toContain(secret);
    expect(line).toMatchObject({
      msg: 'calling the API',
      a: { b: { token: '[redacted]', tokenFile: '/etc/lifeboat/token', tokenEnv: 'LIFEBOAT_TOKEN' } },
      request: {
        headers: {
          authorization: '[redacted]',
          Authorization: '[redacted]',
          cookie: '[redacted]',
          'X-Api-Key': '[redacted]',
          accept: 'application/json',
        },
      },
      objectStore: {
        credentials: { accessKeyId: '[redacted]', secretAccessKey: '[redacted]', sessionToken: '[redacted]' },
        key: 'etcd/primary/x/manifest.json',
      },
      kubeconfig: {
        users: [
          {
            name: 'u',
            user: {
              token: '[redacted]',
              'client-key-data': '[redacted]',
              'client-certificate-data': '[redacted]',
              keyData: '[redacted]',
              certData: '[redacted]',
            },
          },
        ],
      },
      list: [[{ deeper: { password: '[redacted]', webhookSecret: '[redacted]' } }]],
      url: 'https://admin:[redacted]@example.invalid/path',
    });
  });

  it('redacts inside errors, child bindings and Temporal SDK entries, and survives cycles', () => {
    const { logger, lines, text } = captured();
    const err = Object.assign(new Error('request failed'), { response: { headers: { 'set-cookie': secret }, body: { token: secret } } });
    logger.error({ err }, 'failed');
    logger
      .child({ auth: { bearerToken: secret } })
      .child({ nested: { password: secret } })
      .warn({ step: 'fetch' }, 'from a child');
    temporalLogSink(logger)({
      level: 'WARN',
      message: 'activity failed',
      timestampNanos: 0n,
      meta: { activityType: 'x', failure: { details: { apiKey: secret } } },
    });
    const cyclic: Record<string, unknown> = { password: secret };
    cyclic.self = cyclic;
    logger.info({ cyclic }, 'cyclic');

    expect(text()).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      msg: 'failed',
      err: {
        type: 'Error',
        message: 'request failed',
        response: { headers: { 'set-cookie': '[redacted]' }, body: { token: '[redacted]' } },
      },
    });
    expect(lines[0]!.err).toHaveProperty('stack');
    expect(lines[1]).toMatchObject({
      msg: 'from a child',
      auth: { bearerToken: '[redacted]' },
      nested: { password: '[redacted]' },
      step: 'fetch',
    });
    expect(lines[2]).toMatchObject({
      msg: 'activity failed',
      sdk: true,
      activityType: 'x',
      failure: { details: { apiKey: '[redacted]' } },
    });
    expect(lines[3]).toMatchObject({ cyclic: { password: '[redacted]', self: '[circular]' } });
  });
});

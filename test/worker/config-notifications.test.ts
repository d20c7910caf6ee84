// Unit: the `notifications:` block (receivers and routes): read with its defaults, and refused at its
// line, naming what was expected, when a receiver, a route or a secret file is wrong. No lab needed.
import { chmodSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../worker/config.js';
import { configFilesDir, problemsOf } from '../helpers/config-problems.js';

const f = configFilesDir('lifeboat-config-notifications-');
writeFileSync(f('slack-url'), 'https://hooks.slack.example/services/T0/B0/secret\n', { mode: 0o600 });
writeFileSync(f('hmac-key'), `${'k'.repeat(40)}\n`, { mode: 0o600 });
writeFileSync(f('short-key'), 'short\n', { mode: 0o600 });
writeFileSync(f('open-key'), `${'k'.repeat(40)}\n`);
chmodSync(f('open-key'), 0o644);

/** A valid configuration with `notifications` as given, starting at line 15. */
const withNotifications = (name: string, notifications: string) => {
  const file = f(name);
  writeFileSync(
    file,
    `temporal:
  address: temporal.example:7233
objectStore:
  endpoint: http://127.0.0.1:9000
  bucket: backups
clusters:
  - name: primary
    kubeconfig: ${f('kubeconfig')}
    etcd:
      endpoints: [https://10.0.0.1:2379]
      caFile: ${f('etcd-ca.crt')}
      certFile: ${f('etcd.crt')}
      keyFile: ${f('etcd.key')}
# line 14
${notifications}`,
  );
  return file;
};

const receivers = `notifications:
  receivers:
    sre:
      kind: slack
      urlFile: ${f('slack-url')}
    audit:
      kind: webhook
      url: https://audit.example/lifeboat
      keyFile: ${f('hmac-key')}
    am:
      kind: alertmanager
      url: http://alertmanager.example:9093
`;

describe('notifications', () => {
  it('defaults to no receivers and no routes: nothing is sent', () => {
    expect(loadConfig({ file: withNotifications('none.yaml', ''), env: {} }).notifications).toEqual({ receivers: {}, routes: [] });
  });

  it('is read with the defaults written once (timeout 10 s, Alertmanager alerts resolved after 24 h, routes that take everything)', () => {
    const config = loadConfig({
      file: withNotifications(
        'ok.yaml',
        `${receivers}  routes:\n    - receivers: [am]\n    - runbooks: ['runbook/*', failover]\n      events: [failed, approval-needed]\n      receivers: [sre, audit]\n`,
      ),
      env: {},
    });
    expect(config.notifications.receivers).toEqual({
      sre: { kind: 'slack', urlFile: f('slack-url'), timeout: 10 },
      audit: { kind: 'webhook', url: 'https://audit.example/lifeboat', keyFile: f('hmac-key'), timeout: 10 },
      am: { kind: 'alertmanager', url: 'http://alertmanager.example:9093', resolveAfter: 86400, timeout: 10 },
    });
    expect(config.notifications.routes).toEqual([
      { receivers: ['am'] },
      { runbooks: ['runbook/*', 'failover'], events: ['failed', 'approval-needed'], receivers: ['sre', 'audit'] },
    ]);
  });

  it('refuses an unknown receiver kind at its line, naming the kinds', () => {
    const file = withNotifications('kind.yaml', `notifications:\n  receivers:\n    pager:\n      kind: pagerduty\n`);
    expect(problemsOf(file)).toEqual([
      `${file}:18:13: notifications.receivers.pager.kind: expected kind 'slack', 'webhook' or 'alertmanager'`,
    ]);
  });

  it('refuses a misspelt key at its line, with the keys that receiver kind takes', () => {
    const file = withNotifications(
      'typo.yaml',
      `notifications:\n  receivers:\n    sre:\n      kind: slack\n      urlfile: ${f('slack-url')}\n`,
    );
    expect(problemsOf(file)).toEqual(
      expect.arrayContaining([`${file}:19:7: notifications.receivers.sre.urlfile: unknown key; expected one of kind, urlFile, timeout`]),
    );
  });

  it('refuses a route naming a receiver that is not configured, at its line, with the configured ones', () => {
    const file = withNotifications('unknown.yaml', `${receivers}  routes:\n    - events: [failed]\n      receivers: [sre, pager]\n`);
    expect(problemsOf(file)).toEqual([
      `${file}:29:24: notifications.routes[0].receivers[1]: unknown receiver 'pager'; configured: sre, audit, am`,
    ]);
  });

  it('refuses an unknown event, and outcomes on events that have none', () => {
    const file = withNotifications(
      'routes.yaml',
      `${receivers}  routes:\n    - events: [failed, exploded]\n      receivers: [sre]\n    - events: [started]\n      outcomes: [failed]\n      receivers: [am]\n`,
    );
    expect(problemsOf(file)).toEqual([
      `${file}:28:24: notifications.routes[0].events[1]: expected one of started, approval-needed, failed, completed`,
      `${file}:31:17: notifications.routes[1].outcomes: never matches: only completed and failed events have an outcome, and this route takes started`,
    ]);
  });

  it('refuses a route with no receivers, and an Alertmanager with both a bearer token and basic auth', () => {
    const file = withNotifications(
      'empty.yaml',
      `notifications:\n  receivers:\n    am:\n      kind: alertmanager\n      url: http://am:9093\n      bearerTokenFile: ${f('hmac-key')}\n      basicAuth: { username: lifeboat, passwordFile: ${f('hmac-key')} }\n  routes:\n    - receivers: []\n`,
    );
    expect(problemsOf(file).sort()).toEqual(
      [
        `${file}:18:7: notifications.receivers.am: at most one of bearerTokenFile or basicAuth`,
        `${file}:23:18: notifications.routes[0].receivers: at least one receiver`,
      ].sort(),
    );
  });

  it('refuses secret files that are missing, open to others, or a webhook key too short to sign with', () => {
    const file = withNotifications(
      'files.yaml',
      `notifications:\n  receivers:\n    sre:\n      kind: slack\n      urlFile: ${f('missing')}\n    audit:\n      kind: webhook\n      url: https://audit.example/\n      keyFile: ${f('open-key')}\n    short:\n      kind: webhook\n      url: https://audit.example/\n      keyFile: ${f('short-key')}\n`,
    );
    expect(problemsOf(file)).toEqual([
      `${file}:19:16: notifications.receivers.sre.urlFile: '${f('missing')}': no such file; expected a readable file only its owner can access (chmod 600 it)`,
      `${file}:23:16: notifications.receivers.audit.keyFile: '${f('open-key')}': mode 0644 is too open: its group and others may access it; expected a readable file only its owner can access (chmod 600 it)`,
      `${file}:27:16: notifications.receivers.short.keyFile: '${f('short-key')}' holds a key of 5 characters; expected at least 32 (e.g. openssl rand -hex 32)`,
    ]);
  });
});

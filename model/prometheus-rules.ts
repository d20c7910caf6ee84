// The alert rules ship twice: deploy/prometheus/lifeboat-rules.yml for a plain Prometheus, and the same
// groups in a PrometheusRule for the Prometheus Operator. The manifest is generated from the rules file
// (scripts/prometheus-rule.ts); test/deploy/prometheus-rules.test.ts fails when they drift.
import { parse, stringify } from 'yaml';

export const rulesFilePath = 'deploy/prometheus/lifeboat-rules.yml';
export const prometheusRulePath = 'deploy/prometheus/prometheusrule.yaml';

export interface RuleGroups {
  groups: { name: string; rules: Record<string, unknown>[] }[];
}

/** The PrometheusRule manifest carrying `rulesFileText`'s groups, as committed. */
export function prometheusRuleManifest(rulesFileText: string): string {
  const { groups } = parse(rulesFileText) as RuleGroups;
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'lifeboat',
      namespace: 'lifeboat-system',
      labels: { 'app.kubernetes.io/name': 'lifeboat', 'app.kubernetes.io/part-of': 'lifeboat' },
    },
    spec: { groups },
  };
  return `# Generated from lifeboat-rules.yml by \`node dist/scripts/prometheus-rule.js\`: edit that file, not this one.\n${stringify(manifest, { lineWidth: 0 })}`;
}

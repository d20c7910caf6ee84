// Writes deploy/prometheus/prometheusrule.yaml from deploy/prometheus/lifeboat-rules.yml; a test fails when the committed file drifts.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { prometheusRuleManifest, prometheusRulePath, rulesFilePath } from '../model/prometheus-rules.js';

const at = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
writeFileSync(at(prometheusRulePath), prometheusRuleManifest(readFileSync(at(rulesFilePath), 'utf8')));
console.log(`wrote ${prometheusRulePath}`);

// Workflow files run in Temporal's deterministic sandbox: they may import only @temporalio/workflow,
// types, and pure helpers. Everything that touches the world is an activity.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...builtinModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'Workflow code is deterministic: no Node built-ins.' })),
          ],
          patterns: [
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'], message: 'Workflows import only @temporalio/workflow.' },
            { group: ['@kubernetes/*', '@aws-sdk/*', 'execa', 'pino', 'prom-client', 'yaml'], message: 'Clients belong in activities.' },
            { group: ['../activities/*', '../worker/*', '../cli/*', '../lab/*'], allowTypeImports: true, message: 'Workflows may only `import type` from activities.' },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);

// Workflow files run in Temporal's deterministic sandbox: they may import only @temporalio/workflow,
// types, and pure helpers. Everything that touches the world is an activity.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import prettier from 'eslint-config-prettier/flat';

const failureTypeLiterals = [
  {
    selector: 'CallExpression[callee.property.name=/^(nonRetryable|retryable|create)$/] > Literal[value=/^[A-Z][A-Za-z]+$/]',
    message: 'Use a failure type from model/failures.ts.',
  },
  { selector: "Property[key.name='nonRetryableErrorTypes'] Literal", message: 'Use failure types from model/failures.ts.' },
];

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
            ...builtinModules
              .flatMap((m) => [m, `node:${m}`])
              .map((name) => ({ name, message: 'Workflow code is deterministic: no Node built-ins.' })),
          ],
          patterns: [
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'],
              message: 'Workflows import only @temporalio/workflow.',
            },
            { group: ['@kubernetes/*', '@aws-sdk/*', 'execa', 'pino', 'prom-client', 'yaml'], message: 'Clients belong in activities.' },
            {
              group: ['../activities/*', '../worker/*', '../cli/*', '../lab/*'],
              allowTypeImports: true,
              message: 'Workflows may only `import type` from activities.',
            },
          ],
        },
      ],
    },
  },
  {
    // Failure types come from the one registry (model/failures.ts): a typo in a string here would
    // silently make an error retryable, or a match never fire.
    files: ['workflows/**/*.ts', 'activities/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ...failureTypeLiterals] },
  },
  {
    // Workflows and the CLI match failures by type (activities compare Kubernetes condition types).
    files: ['workflows/**/*.ts', 'cli/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...failureTypeLiterals,
        {
          selector: "BinaryExpression[operator=/^[!=]==$/][left.property.name='type'] > Literal[value=/^[A-Z][A-Za-z]+$/]",
          message: 'Match failures by a type from model/failures.ts.',
        },
      ],
    },
  },
  {
    // Pure code shared by workflows and activities: it runs in the workflow sandbox too.
    files: ['model/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtinModules
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({ name, message: 'model/ is pure: no Node built-ins.', allowTypeImports: true })),
          patterns: [
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing', '@temporalio/workflow'],
              allowTypeImports: true,
              message: 'model/ is pure: no Temporal runtime.',
            },
            {
              group: ['@kubernetes/*', '@aws-sdk/*', 'execa', 'pino', 'prom-client', 'etcd3'],
              allowTypeImports: true,
              message: 'Clients belong in activities.',
            },
            {
              group: ['../workflows/*', '../activities/*', '../worker/*', '../cli/*', '../lab/*'],
              allowTypeImports: true,
              message: 'model/ imports nothing but other pure code (types excepted).',
            },
          ],
        },
      ],
    },
  },
  {
    // Activities never import values from workflows/: what both need lives in model/.
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/workflows/*'], allowTypeImports: true, message: 'Shared pure code lives in model/.' }] },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // Layout is Prettier's (.prettierrc.json, checked by `npm run lint`): no style rule may disagree with it.
  prettier,
);

// Tests run on the compiled output (npm run build) in Jest's native ESM mode: @kubernetes/client-node
// is ESM-only, and running what ships is what we want to test.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  transform: {},
  globalSetup: '<rootDir>/dist/test/setup/globalSetup.js',
  testTimeout: 120_000,
  maxWorkers: 1,
  verbose: true,
};

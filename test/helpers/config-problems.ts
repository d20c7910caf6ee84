// What a bad configuration is told: the problems of the ConfigError that loading it throws.
import { expect } from '@jest/globals';
import { ConfigError, loadConfig } from '../../worker/config.js';

/** The problems `load` throws (a ConfigError, or the test fails); a file name is loaded as the worker loads it. */
export function problemsOf(load: string | (() => unknown)): string[] {
  try {
    if (typeof load === 'string') loadConfig({ file: load, env: {} });
    else load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

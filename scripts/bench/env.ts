// A bench's settings from the environment (BENCH_REPEATS and the like), checked before anything is
// created: a bad value stops the bench naming the variable and what it takes, exit 2.

function refuse(name: string, value: string, expected: string): never {
  process.stderr.write(`${name}=${JSON.stringify(value)}: expected ${expected}\n`);
  process.exit(2);
}

/** A whole number at least `min`, `fallback` when unset. */
export function envCount(name: string, fallback: number, min = 1): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) refuse(name, value, `a whole number of at least ${min}`);
  return n;
}

/** Letters each naming one of `allowed` (separators `,` and spaces ignored), each once; `allowed` when unset. */
export function envLetters<T extends string>(name: string, allowed: readonly T[]): T[] {
  const value = process.env[name];
  if (value === undefined || value === '') return [...allowed];
  const letters = value.replace(/[\s,]/g, '').split('');
  const unknown = letters.filter((l) => !(allowed as readonly string[]).includes(l));
  if (!letters.length || unknown.length || new Set(letters).size !== letters.length)
    refuse(name, value, `some of ${allowed.join('')}, each once${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`);
  return letters as T[];
}

/** Whole numbers at least `min`, comma-separated; `fallback` when unset. */
export function envCounts(name: string, fallback: number[], min = 1): number[] {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const ns = value.split(',').map((x) => Number(x.trim()));
  if (ns.some((n) => !Number.isInteger(n) || n < min)) refuse(name, value, `whole numbers of at least ${min}, separated by commas`);
  return ns;
}

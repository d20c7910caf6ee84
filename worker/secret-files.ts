// Files that hold secrets (snapshot keys, tokens): refused when others may read them, as OpenSSH refuses
// a private key ("UNPROTECTED PRIVATE KEY FILE"). The rule is ssh's: a file owned by this user must
// have no group or other permission bits. A file owned by someone else (root's Kubernetes Secret volume
// read by a non-root worker through its group, say) is that owner's to protect, as ssh decides too.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';

/** A secret file others may read or write; the message names the file and its mode. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Why the secret file at `path` is not private, or undefined when it is: a file of this user's with
 * group or other permission bits. Missing and unreadable files are for the caller's own read to report.
 */
export function secretFileProblem(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  const uid = process.getuid?.();
  if (uid === undefined || st.uid !== uid || (st.mode & 0o077) === 0) return undefined;
  const who = [st.mode & 0o070 ? 'its group' : '', st.mode & 0o007 ? 'others' : ''].filter(Boolean).join(' and ');
  return `mode ${octal(st.mode)} is too open: ${who} may access it`;
}

/** Reads the secret file `path` (UTF-8) after checking it is private; `what` names it in the error ("key 'k1' file"). */
export function readSecretFile(path: string, what: string): string {
  const problem = secretFileProblem(path);
  if (problem) throw new SecretFileError(`${what} '${path}': ${problem}; it must be accessible by its owner only (chmod 600 '${path}')`);
  return readFileSync(path, 'utf8');
}

/** Writes a secret file (a key, a token, a kubeconfig with credentials) readable by its owner only, also over an existing, more open one. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  // `mode` applies only when the file is created.
  await chmod(path, 0o600);
}

/** Closes an existing secret file to its owner (chmod 600): one made by an older version, or by a tool with another umask. */
export async function protectSecretFile(path: string): Promise<void> {
  if (existsSync(path)) await chmod(path, 0o600);
}

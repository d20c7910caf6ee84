// Who runs the CLI: the OS user, or the name `--as` (LIFEBOAT_AS) gives where the configuration allows
// it (`cli.allowIdentityOverride`). It is the Temporal client identity every command connects with (the
// server records it on each start, update and signal in the run's history), the requester of every run
// started and the approver or aborter of every update sent. It is never typed as a free-form argument.
import { userInfo } from 'node:os';
import type { LifeboatConfig } from '../worker/config.js';
import { CliError, exitCodes } from './output.js';

/** The OS user; "unknown" where the OS has no name for the user. */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

let asked: string | undefined;

/** `--as NAME` from the command line (main.ts sets it before any command runs). */
export function setIdentityOverride(name: string | undefined): void {
  asked = name;
}

/** Who runs this command, or a refusal (exit 2) of an `--as` the configuration does not allow. */
export function cliIdentity(config: LifeboatConfig): string {
  const os = osUser();
  const [name, from] = asked !== undefined ? [asked, '--as'] : [process.env.LIFEBOAT_AS, 'LIFEBOAT_AS'];
  if (name === undefined || name === os) return os;
  if (!/^\S+$/.test(name)) throw new CliError(`${from} '${name}': expected a name without spaces`, exitCodes.badInput);
  if (!config.cli.allowIdentityOverride)
    throw new CliError(
      `${from} '${name}' refused: you are '${os}', and the configuration does not let anyone act under another name (cli.allowIdentityOverride is false)`,
      exitCodes.badInput,
    );
  return name;
}

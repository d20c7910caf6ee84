// One command on a control-plane host, run with OpenSSH's client (`/usr/bin/ssh`): the host key is
// checked against the configured known_hosts file only (never accepted on first use), no agent, no
// password prompt. ssh hands the remote side one string, which the login shell splits again, so every
// argument is single-quoted for a POSIX shell here (quoteForShell).
//
// ssh's own failures are told apart from the command's by exit status 255 and ssh's message on stderr:
// a host key that does not match and a refused login are non-retryable (retrying cannot fix them); a
// host that does not answer is retryable (ControlPlaneHostUnreachable).
import { ApplicationFailure } from '@temporalio/activity';
import { execa } from 'execa';
import { failureTypes } from '../../model/failures.js';
import type { CommandsControlPlaneConfig } from '../../worker/config.js';

export type ControlPlaneHost = CommandsControlPlaneConfig['hosts'][number];
type SshConfig = CommandsControlPlaneConfig['ssh'];

/** The OpenSSH client. */
export const sshClient = '/usr/bin/ssh';

/** Characters a POSIX shell reads literally outside quotes: such a word is passed as it is (not one starting with `=`, which zsh expands). */
const plainWord = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/;

/**
 * `arg` as one word for a POSIX shell: as it is when every character is literal, else in single quotes,
 * inside which nothing is special; a single quote itself is closed, escaped and reopened (`'\''`).
 */
export function quoteForShell(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument with a NUL byte cannot be passed to a remote command');
  return plainWord.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The command line the remote shell runs for `argv`: each argument one word, whatever it holds. */
export const remoteCommandLine = (argv: string[]) => argv.map(quoteForShell).join(' ');

export interface RemoteResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** A local file streamed to the command's stdin. Default: no stdin. */
  inputFile?: string;
  /** Text written to the command's stdin. */
  input?: string;
}

/** ssh's messages for a host that did not answer: retrying may reach it. */
const unreachable =
  /^ssh: |^kex_exchange_identification|^Connection (closed|reset|timed out)|closed by remote host|^Timeout, server .* not responding|^Bad packet length|^Broken pipe/m;
const hostKeyChanged = /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i;
const hostKeyUnknown = /No \S+ host key is known for|Host key verification failed/i;
const loginRefused = /Permission denied \(|Too many authentication failures/i;

/** The last lines of a command's output, on one line, for a failure message. */
export const tail = (text: string, lines = 3) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' | ');

/** Runs commands on the control-plane hosts of one cluster. */
export class SshRunner {
  constructor(
    private readonly cluster: string,
    private readonly ssh: SshConfig,
  ) {}

  /** `name (user@address:port)`: how every message names a host. */
  describe(host: ControlPlaneHost): string {
    return `control-plane host ${host.name} (${this.ssh.user}@${host.address}:${host.port ?? this.ssh.port}) of '${this.cluster}'`;
  }

  /** ssh's arguments for a command line on `host`: every option that matters set here, not left to ~/.ssh/config. */
  sshArgs(host: ControlPlaneHost, commandLine: string): string[] {
    const o = (option: string, value: string | number) => ['-o', `${option}=${value}`];
    return [
      '-T',
      '-i',
      this.ssh.identityFile,
      '-p',
      String(host.port ?? this.ssh.port),
      '-l',
      this.ssh.user,
      ...o('IdentitiesOnly', 'yes'),
      ...o('IdentityAgent', 'none'),
      ...o('BatchMode', 'yes'),
      ...o('PasswordAuthentication', 'no'),
      ...o('KbdInteractiveAuthentication', 'no'),
      ...o('StrictHostKeyChecking', 'yes'),
      ...o('UserKnownHostsFile', this.ssh.knownHostsFile),
      ...o('GlobalKnownHostsFile', '/dev/null'),
      ...o('UpdateHostKeys', 'no'),
      ...o('ConnectTimeout', this.ssh.connectTimeout),
      // A host that dies during a long etcdutl restore is noticed within a minute, not never.
      ...o('ServerAliveInterval', 15),
      ...o('ServerAliveCountMax', 4),
      '--',
      host.address,
      commandLine,
    ];
  }

  /**
   * Runs `argv` on `host` and returns its exit status and output. ssh's own failures (exit 255 with
   * ssh's message) throw: a host key that does not match or a refused login non-retryable
   * ControlPlaneActionFailed, a host that does not answer retryable ControlPlaneHostUnreachable.
   */
  async run(host: ControlPlaneHost, argv: string[], options: RunOptions = {}): Promise<RemoteResult> {
    const line = remoteCommandLine(argv);
    const r = await execa(sshClient, this.sshArgs(host, line), {
      reject: false,
      stripFinalNewline: false,
      ...(options.inputFile !== undefined
        ? { inputFile: options.inputFile }
        : options.input !== undefined
          ? { input: options.input }
          : { stdin: 'ignore' }),
    });
    if (r.exitCode === undefined) throw new Error(`${this.describe(host)}: \`${line}\`: ssh did not run: ${r.message}`);
    const result = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    if (r.exitCode === 255) this.throwIfSshFailed(host, line, r.stderr);
    return result;
  }

  /** Like run, but any exit status other than 0 is a non-retryable ControlPlaneActionFailed naming the host, the command and its output. */
  async check(host: ControlPlaneHost, argv: string[], options: RunOptions = {}): Promise<RemoteResult> {
    const r = await this.run(host, argv, options);
    if (r.exitCode !== 0) throw this.commandFailed(host, argv, `exited ${r.exitCode}: ${tail(r.stderr || r.stdout) || '(no output)'}`);
    return r;
  }

  /** A non-retryable ControlPlaneActionFailed: `what` went wrong with `argv` on `host`. */
  commandFailed(host: ControlPlaneHost, argv: string[], what: string): ApplicationFailure {
    return ApplicationFailure.nonRetryable(
      `${this.describe(host)}: \`${remoteCommandLine(argv)}\` ${what}`,
      failureTypes.ControlPlaneActionFailed,
    );
  }

  private throwIfSshFailed(host: ControlPlaneHost, line: string, stderr: string): void {
    const at = `${this.describe(host)}: \`${line}\``;
    const said = tail(stderr, 2);
    if (hostKeyChanged.test(stderr))
      throw ApplicationFailure.nonRetryable(
        `${at} was not run: the host key did not match the one for it in known_hosts file ${this.ssh.knownHostsFile} (ssh: ${said}). If the host was reinstalled, replace its line there after checking the new key`,
        failureTypes.ControlPlaneActionFailed,
      );
    if (hostKeyUnknown.test(stderr))
      throw ApplicationFailure.nonRetryable(
        `${at} was not run: the host key did not match any in known_hosts file ${this.ssh.knownHostsFile} (the host has no line there; ssh: ${said}). Add the host's key there after checking it`,
        failureTypes.ControlPlaneActionFailed,
      );
    if (loginRefused.test(stderr))
      throw ApplicationFailure.nonRetryable(
        `${at} was not run: the host refused the login of ${this.ssh.user} with key ${this.ssh.identityFile} (ssh: ${said})`,
        failureTypes.ControlPlaneActionFailed,
      );
    if (unreachable.test(stderr))
      throw ApplicationFailure.retryable(`${at}: the host did not answer (ssh: ${said})`, failureTypes.ControlPlaneHostUnreachable);
    // Anything else with 255 is the remote command's own exit status, left to the caller.
  }
}

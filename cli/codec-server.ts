// `lifeboat codec-server`: serves Temporal's remote codec protocol with the history keys, so the
// Temporal UI (its codec endpoint) and `temporal --codec-endpoint URL --codec-auth 'Bearer TOKEN'` show
// Lifeboat's encrypted history decoded. Runs until SIGTERM or SIGINT.
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { loadConfig, type LifeboatConfig } from '../worker/config.js';
import { HistoryCodec } from '../worker/codec.js';
import { createCodecServer, minTokenLength } from '../worker/codec-server.js';
import { loadKeyRing } from '../worker/keys.js';
import { createLogger } from '../worker/logging.js';
import { CliError, exitCodes } from './output.js';

/** The configured token, or why there is none worth using. */
function readToken(server: NonNullable<LifeboatConfig['codecServer']>, env: NodeJS.ProcessEnv): string {
  const source = server.tokenFile
    ? `codecServer.tokenFile '${server.tokenFile}'`
    : `codecServer.tokenEnv: environment variable ${server.tokenEnv}`;
  const token = (server.tokenFile ? readFileSync(server.tokenFile, 'utf8') : (env[server.tokenEnv!] ?? '')).trim();
  if (token.length < minTokenLength)
    throw new CliError(
      `${source}: the token has ${token.length} characters; expected at least ${minTokenLength} (e.g. \`openssl rand -hex 32\`)`,
      exitCodes.badInput,
    );
  return token;
}

export function registerCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description('decode and encode Temporal payloads for the Temporal UI and CLI with the history keys (codecServer in the configuration)')
    .option('--listen <host:port>', 'address to listen on (default: codecServer.listen)')
    .action(async (opts: { listen?: string }) => {
      const config = loadConfig();
      const server = config.codecServer;
      if (!server || !config.encryption)
        throw new CliError(
          'the configuration has no codecServer block; expected codecServer.tokenFile or codecServer.tokenEnv (and an encryption block)',
          exitCodes.badInput,
        );
      // Key and token files others could read were refused by loadConfig (worker/config/checks.ts).
      const token = readToken(server, process.env);
      const listen = opts.listen ?? server.listen;
      const match = /^(.+):(\d+)$/.exec(listen);
      if (!match) throw new CliError(`--listen '${listen}': expected host:port`, exitCodes.badInput);
      const logger = createLogger().child({ component: 'codec-server' });
      const http = createCodecServer({
        codec: new HistoryCodec(loadKeyRing(config.encryption)),
        token,
        uiOrigin: server.uiOrigin,
        tokenInPath: server.tokenInPath,
        logger,
      });
      http.listen(Number(match[2]), match[1]);
      try {
        await once(http, 'listening');
      } catch (err) {
        throw new CliError(`cannot listen on ${listen}: ${(err as Error).message}`);
      }
      logger.info({ listen, uiOrigin: server.uiOrigin ?? null, keys: config.encryption.keys.map((k) => k.id) }, 'codec server listening');
      await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      logger.info('codec server stopped');
    });
}

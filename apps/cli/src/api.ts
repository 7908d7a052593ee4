// The gateway the job commands call, and the key they send: --url / --api-key, else CURATOR_URL /
// CURATOR_API_KEY (parsed by @curator/config like every other variable).
import { Command, Option } from 'commander';
import { loadEnv } from '@curator/config';
import { CuratorClient } from '@curator/client';
import { UsageError, reportFailure, type CliIo } from './output.ts';

export interface ConnectionOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** Adds --url, --api-key and --json to a job command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'the gateway (default: CURATOR_URL, else http://localhost:8080)'))
    .addOption(new Option('--api-key <key>', 'API key sent as Authorization: Bearer (default: CURATOR_API_KEY)'))
    .option('--json', 'print one JSON document on stdout (errors too, as { "error": { code, message } })');
}

export function clientFor(io: CliIo, options: ConnectionOptions): CuratorClient {
  const env = loadEnv(io.env);
  const url = options.url ?? env.CURATOR_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`--url ${url}: an http(s) URL, e.g. http://localhost:8080`);
  const apiKey = options.apiKey ?? env.CURATOR_API_KEY;
  return new CuratorClient({ baseUrl: url, ...(apiKey ? { apiKey } : {}) });
}

/**
 * Runs a job command's body with the client, reporting any failure the one way (code on stderr,
 * JSON on stdout with --json, exit code 1).
 */
export async function withClient(io: CliIo, options: ConnectionOptions, body: (client: CuratorClient) => Promise<void>): Promise<void> {
  try {
    await body(clientFor(io, options));
  } catch (error) {
    reportFailure(io, error, options.json === true);
  }
}

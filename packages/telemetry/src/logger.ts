import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Credentials never reach a log line, wherever a request's headers end up in one (an error with its
 * request, a plugin logging `req`): API keys travel in Authorization, cookies are never used but
 * would be as secret.
 */
const redactedPaths = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'request.headers.authorization', 'request.headers.cookie'];

/**
 * JSON lines on stdout, one logger per component. Docker and Kubernetes collect stdout, so no file
 * transport: log shipping is the platform's job. The level comes from the parsed config (`env.LOG_LEVEL`).
 * `destination` is for tests that read what was logged.
 */
export function createLogger(name: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    // The level as a word ("info") reads better in `docker compose logs` and log queries than pino's number.
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

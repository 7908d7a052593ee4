import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON lines on stdout, one logger per component. Docker and Kubernetes collect stdout, so no file
 * transport: log shipping is the platform's job. The level comes from the parsed config (`env.LOG_LEVEL`).
 */
export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    // The level as a word ("info") reads better in `docker compose logs` and log queries than pino's number.
    formatters: { level: (label) => ({ level: label }) },
  });
}

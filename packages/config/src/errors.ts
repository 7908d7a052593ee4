/** Thrown at start-up when an environment variable has a wrong value; lists every bad one. */
export class CuratorConfigError extends Error {
  readonly code = 'invalid_config';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'CuratorConfigError';
    this.problems = problems;
  }
}

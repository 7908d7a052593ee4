// Reading diffusers config.json objects: typed getters that name the offending key, and one refusal
// for what the builders do not build (a clear error instead of a graph that is silently wrong).
import { CuratorError } from '@curator/contracts';

export type ConfigObject = Readonly<Record<string, unknown>>;

/** The error for a config key the builder cannot honour. */
export function unsupportedConfig(model: string, key: string, message: string): CuratorError {
  return new CuratorError('model_unsupported', `${model} config: ${key} ${message}`, { details: [{ path: key, message }] });
}

export class ConfigReader {
  readonly model: string;
  private readonly config: ConfigObject;

  constructor(model: string, config: ConfigObject) {
    this.model = model;
    this.config = config;
  }

  refuse(key: string, message: string): never {
    throw unsupportedConfig(this.model, key, message);
  }

  has(key: string): boolean {
    return this.config[key] !== undefined && this.config[key] !== null;
  }

  raw(key: string): unknown {
    return this.config[key];
  }

  int(key: string, fallback: number, min = 1): number {
    const value = this.config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) this.refuse(key, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return value;
  }

  number(key: string, fallback: number): number {
    const value = this.config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) this.refuse(key, `must be a number, got ${JSON.stringify(value)}`);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.config[key] ?? fallback;
    if (typeof value !== 'boolean') this.refuse(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  strings(key: string, fallback: readonly string[]): string[] {
    const value = this.config[key] ?? fallback;
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) this.refuse(key, `must be a non-empty list of names, got ${JSON.stringify(value)}`);
    return [...(value as string[])];
  }

  ints(key: string, fallback: readonly number[]): number[] {
    const value = this.config[key] ?? fallback;
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)) {
      this.refuse(key, `must be a non-empty list of positive integers, got ${JSON.stringify(value)}`);
    }
    return [...(value as number[])];
  }

  /** An int, or one int per block (diffusers accepts both for several keys). */
  perBlock(key: string, fallback: number, blocks: number): number[] {
    const value = this.config[key] ?? fallback;
    if (typeof value === 'number') return new Array(blocks).fill(this.int(key, fallback));
    if (Array.isArray(value) && value.length === blocks && value.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)) return [...(value as number[])];
    this.refuse(key, `must be a positive integer or a list of ${blocks} of them, got ${JSON.stringify(value)}`);
  }

  /** The key must be absent, null or equal to `allowed` (the only value the builder implements). */
  only(key: string, allowed: unknown, why = 'is not supported'): void {
    const value = this.config[key];
    if (value === undefined || value === null) return;
    if (JSON.stringify(value) !== JSON.stringify(allowed)) this.refuse(key, `= ${JSON.stringify(value)} ${why} (only ${JSON.stringify(allowed)})`);
  }

  /** The key must be absent or null. */
  absent(key: string, why = 'is not supported'): void {
    const value = this.config[key];
    if (value !== undefined && value !== null) this.refuse(key, `= ${JSON.stringify(value)} ${why}`);
  }
}

import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isCuratorError } from '@curator/contracts';
import { loadEnv, type Env } from '@curator/config';
import { storageOptionsFromEnv, type ObjectStorageOptions } from '@curator/storage';
import type { Logger } from '@curator/telemetry';
import {
  checkModels,
  convertModel,
  convertiblePrecisions,
  listModels,
  modelEntry,
  modelOverridesFromEnv,
  precisionSchema,
  prepareModels,
  pullModels,
  resolveModel,
  roleSchema,
  roles as allRoles,
  type ConvertiblePrecision,
  type ModelCheck,
  type ModelRole,
  type ModelSet,
  type Precision,
  type PrepareEvent,
  type PrepareOptions,
  type PreparedModel,
} from '@curator/models';
import { runParity, formatParity, type ParityReport } from './models-parity.ts';
import { createMultiBar, drawsBars, type ProgressBar } from '../progress.ts';

export interface ModelsCommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Variables to parse instead of the process environment (tests). */
  env?: Record<string, string | undefined>;
}

/** The command that fetches and converts missing models, as users type it. */
export const prepareCommandLine = 'npm run curator -- models prepare';

/** For `npm start` when models are missing and cannot be fetched: what is missing and the ways out. */
export function describeMissingModels(result: Pick<ModelCheck, 'missing'>): string {
  if (result.missing.length === 0) return 'All models are present.';
  const lines = [`${result.missing.length === 1 ? 'A model is' : `${result.missing.length} models are`} missing:`];
  for (const model of result.missing) {
    const what = model.staleRevision !== undefined ? `holds revision ${model.staleRevision}, wants another` : `${model.files.length} file(s) missing, e.g. ${model.files[0] ?? '?'}`;
    lines.push(`  - ${model.role}: ${model.id} (${model.precision}) in ${model.dir}: ${what}`);
  }
  lines.push(
    '',
    `Fetch and convert them with:  ${prepareCommandLine}`,
    `  (checkpoints from the Hugging Face Hub, converted once; or converted files from CURATOR_MODELS_EXPORTS=s3://<bucket>/<prefix> or a folder of <model-id>/ folders)`,
    `Or run on the small generated test models, no downloads needed:  CURATOR_MODELS=test npm start`,
  );
  return lines.join('\n');
}

function settings(env: Env): { modelsDir: string; set: ModelSet } {
  return { modelsDir: resolve(env.MODELS_DIR), set: env.CURATOR_MODELS };
}

/** The S3 client settings of Curator's config (same parsing as the gateway and worker) for an s3:// model source. */
function s3SourceSettings(storage: ObjectStorageOptions): NonNullable<PrepareOptions['s3']> {
  return {
    ...(storage.endpoint ? { endpoint: storage.endpoint } : {}),
    region: storage.region,
    forcePathStyle: storage.forcePathStyle,
    ...(storage.accessKeyId && storage.secretAccessKey ? { credentials: { accessKeyId: storage.accessKeyId, secretAccessKey: storage.secretAccessKey } } : {}),
  };
}

function parseRoles(value: string | undefined): ModelRole[] | undefined {
  if (!value) return undefined;
  return value.split(',').map((role) => {
    const parsed = roleSchema.safeParse(role.trim());
    if (!parsed.success) throw new Error(`--only ${role}: unknown role (one of ${allRoles.join(', ')})`);
    return parsed.data;
  });
}

function parsePrecision(value: string | undefined): Precision | undefined {
  if (!value) return undefined;
  const parsed = precisionSchema.safeParse(value);
  if (!parsed.success) throw new Error(`--precision ${value}: one of fp32, fp16, int8`);
  return parsed.data;
}

function parseConvertible(value: string | undefined): ConvertiblePrecision[] | undefined {
  if (!value) return undefined;
  return value.split(',').map((p) => {
    const precision = p.trim();
    if (!(convertiblePrecisions as readonly string[]).includes(precision)) throw new Error(`--precision ${precision}: Curator converts to ${convertiblePrecisions.join(' or ')}`);
    return precision as ConvertiblePrecision;
  });
}

/**
 * The precision to prepare: CURATOR_PRECISION, or with `auto` the device's preferred one (fp16
 * on CUDA, fp32 on the CPU), as the worker will ask for it.
 */
export async function wantedPrecision(env: Env): Promise<Precision> {
  if (env.CURATOR_PRECISION !== 'auto') return env.CURATOR_PRECISION;
  if (env.CURATOR_DEVICE === 'cpu') return 'fp32';
  const { resolveExecutionProviders } = await import('@curator/inference');
  return (await resolveExecutionProviders({ device: env.CURATOR_DEVICE, deviceId: env.CURATOR_DEVICE_ID })).preferredPrecision;
}

/** prepareModels' settings from Curator's config (MODELS_DIR, CURATOR_MODELS, HF_*, CURATOR_MODELS_EXPORTS, S3_*). */
export function preparationSettings(env: Env): Omit<PrepareOptions, 'roles'> {
  return {
    modelsDir: resolve(env.MODELS_DIR),
    set: env.CURATOR_MODELS,
    overrides: modelOverridesFromEnv(env),
    ...(env.HF_ENDPOINT ? { hfEndpoint: env.HF_ENDPOINT } : {}),
    ...(env.HF_TOKEN ? { hfToken: env.HF_TOKEN } : {}),
    ...(env.CURATOR_MODELS_EXPORTS ? { exportsFrom: env.CURATOR_MODELS_EXPORTS } : {}),
    s3: s3SourceSettings(storageOptionsFromEnv(env)),
  };
}

/**
 * What `npm start` runs before serving: the models of `roles` pulled and converted (or the test
 * set generated) with progress on stderr, and a message naming what is missing when it fails.
 */
export async function prepareForStart(env: Env, roles: readonly ModelRole[], logger: Logger, io: Pick<ModelsCommandIo, 'stdout'> = { stdout: process.stderr }): Promise<PreparedModel[]> {
  const precision = await wantedPrecision(env);
  const settings = preparationSettings(env);
  const reporter = progressReporter(io);
  try {
    const prepared = await prepareModels({ ...settings, roles, precision, onProgress: reporter.onProgress });
    reporter.stop();
    logger.info({ models: prepared.map((m) => `${m.role}: ${m.id} (${m.precision})`) }, 'models ready');
    return prepared;
  } catch (error) {
    reporter.stop();
    if (settings.set === 'test') throw error;
    const after = await checkModels({ modelsDir: settings.modelsDir, set: 'real', roles, precision, ...(settings.overrides ? { overrides: settings.overrides } : {}) });
    throw new Error(`${describeMissingModels(after)}\n(preparing them failed: ${(error as Error).message})`, { cause: error });
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** The line a finished conversion leaves: time, then each file with its size and sha256. */
function conversionSummary(event: Extract<PrepareEvent, { type: 'convert-done' }>): string[] {
  return [
    `${event.role}: converted ${event.id} to ${event.precision} in ${seconds(event.durationMs)}`,
    ...event.outputs.map((o) => `  ${o.path}  ${formatBytes(o.size)}  sha256 ${o.sha256}`),
  ];
}

/**
 * Renders puller and converter events: one bar per downloaded file and per conversion on a
 * terminal, plain lines otherwise (CI, logs).
 */
export function progressReporter(io: Pick<ModelsCommandIo, 'stdout'>): { onProgress: (event: PrepareEvent) => void; stop: () => void } {
  const line = (text: string) => io.stdout.write(`${text}\n`);
  if (drawsBars(io.stdout)) {
    const multibar = createMultiBar(io.stdout, {
      format: ' {bar} {percentage}% {done}/{size} {file}',
      formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? formatBytes(value) : String(value)),
    });
    const bars = new Map<string, ProgressBar>();
    const log = (text: string) => multibar.log(`${text}\n`);
    return {
      onProgress(event) {
        switch (event.type) {
          case 'model-skip':
            return log(`${event.role}: ${event.id} already present`);
          case 'model-start':
            return log(`${event.role}: ${event.id} from ${event.source} (${event.files.length} files)`);
          case 'file-start': {
            const key = `${event.id}/${event.path}`;
            const size = event.size ?? 0;
            const payload = { file: `${event.role}: ${event.path}`, done: formatBytes(event.resumeFrom), size: event.size === undefined ? '?' : formatBytes(size) };
            const bar = bars.get(key);
            if (bar) {
              bar.setTotal(size);
              bar.update(event.resumeFrom, payload);
            } else bars.set(key, multibar.create(size, event.resumeFrom, payload));
            return;
          }
          case 'file-progress':
            return bars.get(`${event.id}/${event.path}`)?.update(event.received, { done: formatBytes(event.received) });
          case 'file-retry':
            return log(`${event.id}/${event.path}: ${event.message}; retrying (attempt ${event.attempt})`);
          case 'file-restart':
            return log(`${event.id}/${event.path}: ${event.reason}`);
          case 'file-done':
            return bars.get(`${event.id}/${event.path}`)?.update(event.size, { done: formatBytes(event.size), size: formatBytes(event.size) });
          case 'model-done':
            return log(`${event.role}: ${event.id} fetched into ${event.dir}`);
          case 'convert-skip':
            return log(`${event.role}: ${event.id} ${event.precision} already converted`);
          case 'convert-start':
            return log(`${event.role}: converting ${event.id} to ${event.precision} (${event.builder})`);
          case 'convert-progress': {
            const key = `convert:${event.id}:${event.precision}`;
            const payload = { file: `${event.role}: ${event.precision} ${event.phase === 'hashing' ? 'sha256' : `${event.part}, ${event.tensors}/${event.totalTensors} tensors`}`, done: formatBytes(event.bytes), size: formatBytes(event.totalBytes) };
            const bar = bars.get(key);
            if (bar) bar.update(event.bytes, payload);
            else bars.set(key, multibar.create(event.totalBytes, event.bytes, payload));
            return;
          }
          case 'convert-done':
            bars.get(`convert:${event.id}:${event.precision}`)?.update(Number.MAX_SAFE_INTEGER, {});
            return conversionSummary(event).forEach(log);
          case 'test-model-present':
            return;
          case 'test-model-write':
            return log(`${event.role}: writing the test checkpoint (${event.files.length} files)`);
          case 'model-ready':
            return log(`${event.role}: ${event.id} ready (${event.precision})`);
        }
      },
      stop: () => multibar.stop(),
    };
  }
  const reported = new Map<string, number>();
  // A line per quarter keeps logs readable for multi-GB files and long conversions.
  const quarter = (key: string, done: number, total: number, say: (percent: number) => void) => {
    if (total <= 0) return;
    const q = Math.floor((done / total) * 4);
    if (q > (reported.get(key) ?? 0) && q < 4) {
      reported.set(key, q);
      say(q * 25);
    }
  };
  return {
    onProgress(event) {
      switch (event.type) {
        case 'model-skip':
          return line(`${event.role}: ${event.id} already present in ${event.dir}, nothing to do`);
        case 'model-start':
          return line(`${event.role}: pulling ${event.id} from ${event.source} (${event.files.length} files)`);
        case 'file-start':
          reported.set(`${event.id}/${event.path}`, 0);
          return line(`  ${event.id}/${event.path}: ${event.resumeFrom > 0 ? `resuming at ${formatBytes(event.resumeFrom)}` : 'starting'}${event.size === undefined ? '' : ` of ${formatBytes(event.size)}`}`);
        case 'file-progress':
          return quarter(`${event.id}/${event.path}`, event.received, event.size ?? 0, (p) => line(`  ${event.id}/${event.path}: ${p}%`));
        case 'file-retry':
          return line(`  ${event.id}/${event.path}: ${event.message}; retrying (attempt ${event.attempt})`);
        case 'file-restart':
          return line(`  ${event.id}/${event.path}: ${event.reason}`);
        case 'file-done':
          return line(`  ${event.id}/${event.path}: done, ${formatBytes(event.size)}, sha256 ${event.sha256.slice(0, 12)}${event.checked ? ' (verified)' : ' (no recorded sha256 to check)'}`);
        case 'model-done':
          return line(`${event.role}: ${event.id} fetched into ${event.dir}`);
        case 'convert-skip':
          return line(`${event.role}: ${event.id} ${event.precision} already converted`);
        case 'convert-start':
          reported.set(`convert:${event.id}:${event.precision}`, 0);
          return line(`${event.role}: converting ${event.id} to ${event.precision} (${event.builder})`);
        case 'convert-progress':
          if (event.phase === 'hashing') return;
          return quarter(`convert:${event.id}:${event.precision}`, event.bytes, event.totalBytes, (p) =>
            line(`  ${event.id} ${event.precision}: ${p}% (${event.tensors}/${event.totalTensors} tensors, ${formatBytes(event.bytes)} of ${formatBytes(event.totalBytes)})`),
          );
        case 'convert-done':
          return conversionSummary(event).forEach(line);
        case 'test-model-present':
          return;
        case 'test-model-write':
          return line(`${event.role}: writing the test checkpoint (${event.files.length} files)`);
        case 'model-ready':
          return line(`${event.role}: ${event.id} ready (${event.precision})`);
      }
    },
    stop: () => {},
  };
}

function dockerAvailable(): boolean {
  const probe = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore' });
  return probe.status === 0;
}

export function exportInstructions(options: { roles?: ModelRole[]; push?: string; out: string }): string {
  const only = options.roles ? ` --only ${options.roles.join(',')}` : '';
  const push = options.push ? ` --push ${options.push}` : '';
  return [
    "A second, independent route to the ONNX files: Hugging Face optimum's exporter (Python, torch),",
    "in docker/models.Dockerfile at pinned versions. Curator does not need it (it converts the",
    'checkpoints itself); its output is the reference for `models parity`. On a machine with Docker and internet:',
    '',
    '  docker build -f docker/models.Dockerfile -t curator-model-export .',
    `  docker run --rm -v "${options.out}:/out" -e HF_TOKEN curator-model-export --out /out${only}${push}`,
    '',
    'It writes <model-id>/ folders in the MODELS_DIR layout plus checksums.json. Then:',
    '  npm run curator -- models parity <role> --reference <out>/<model-id>',
    'Details: docs/models.md.',
  ].join('\n');
}

const rolesHelp = `comma-separated roles: ${allRoles.join(', ')}`;

/** Adds `models prepare | pull | convert | list | parity | export` to the Curator CLI. */
export function registerModelsCommand(program: Command, io: ModelsCommandIo = { stdout: process.stdout, stderr: process.stderr }): void {
  // Parsed when a command runs (the one config parser; a wrong variable is named there).
  const config = (): Env => loadEnv(io.env);
  const models = program.command('models').description('Fetch, convert, list and check the models (MODELS_DIR, CURATOR_MODELS)');
  const fail = (command: Command, what: string, error: unknown) => {
    const resumable = isCuratorError(error) && error.retryable ? '\nRun the same command again to resume.' : '';
    command.error(`${what} failed: ${(error as Error).message}${resumable}`, { exitCode: 1, code: isCuratorError(error) ? `curator.${error.code}` : 'curator.error' });
  };

  models
    .command('prepare')
    .description('What `npm start` does first: pull the pinned checkpoints and convert them once (CURATOR_MODELS=test: write the test set)')
    .option('--only <roles>', rolesHelp)
    .option('--precision <list>', 'fp32 and/or fp16, comma-separated (default: CURATOR_PRECISION, auto = the device\'s preferred one)')
    .option('--from <source>', 'hub, an http(s) Hub mirror, or s3://bucket/prefix / a folder mirroring MODELS_DIR (converted files)', 'hub')
    .action(async (options: { only?: string; precision?: string; from: string }, command: Command) => {
      const reporter = progressReporter(io);
      try {
        const env = config();
        const settings = preparationSettings(env);
        const roles = parseRoles(options.only) ?? [...allRoles];
        const precisions = parseConvertible(options.precision) ?? [await wantedPrecision(env)];
        let prepared: PreparedModel[] = [];
        for (const precision of precisions) prepared = await prepareModels({ ...settings, roles, precision, from: options.from, onProgress: reporter.onProgress });
        reporter.stop();
        io.stdout.write(`Ready in ${settings.modelsDir}: ${prepared.map((m) => `${m.role} ${m.id} (${m.precision})`).join(', ')}.\n`);
      } catch (error) {
        reporter.stop();
        fail(command, 'models prepare', error);
      }
    });

  models
    .command('pull')
    .description('Fetch files only (resumable; a model folder appears only once whole and verified): checkpoints from the Hub, converted files from S3 or a folder')
    .option('--only <roles>', rolesHelp)
    .option('--precision <precision>', 'with converted files: fp32, fp16 or int8 (roles without it get their default)')
    .option('--from <source>', 'hub, s3://bucket/prefix, an http(s) Hub mirror, or a folder of <model-id>/ folders', 'hub')
    .option('--exports-from <source>', 'with --from hub: fetch converted files from there instead (s3://bucket/prefix or a folder); default CURATOR_MODELS_EXPORTS')
    .option('--concurrency <n>', 'files downloaded at once', '4')
    .action(async (options: { only?: string; precision?: string; from: string; exportsFrom?: string; concurrency: string }, command: Command) => {
      const reporter = progressReporter(io);
      try {
        const env = config();
        const { modelsDir, set } = settings(env);
        if (set === 'test') {
          io.stdout.write(`CURATOR_MODELS=test: the test models are generated, not pulled. Run \`${prepareCommandLine}\`.\n`);
          return;
        }
        const rolesWanted = parseRoles(options.only);
        const precision = parsePrecision(options.precision);
        const exportsFrom = options.exportsFrom ?? env.CURATOR_MODELS_EXPORTS;
        const result = await pullModels({
          modelsDir,
          set,
          overrides: modelOverridesFromEnv(env),
          from: options.from,
          ...(exportsFrom ? { exportsFrom } : {}),
          hfEndpoint: env.HF_ENDPOINT || 'https://huggingface.co',
          concurrency: Math.max(1, Number(options.concurrency) || 4),
          onProgress: reporter.onProgress,
          ...(rolesWanted ? { roles: rolesWanted } : {}),
          ...(precision ? { precision } : {}),
          ...(env.HF_TOKEN ? { hfToken: env.HF_TOKEN } : {}),
          s3: s3SourceSettings(storageOptionsFromEnv(env)),
        });
        reporter.stop();
        io.stdout.write(
          result.pulled.length === 0
            ? `Nothing to do: every file is already present in ${modelsDir}.\n`
            : `Pulled ${result.pulled.map((p) => p.id).join(', ')}${result.skipped.length > 0 ? `; already present: ${result.skipped.map((s) => s.id).join(', ')}` : ''}.\n`,
        );
        const converts = (rolesWanted ?? allRoles).some((role) => modelEntry(role, { set, overrides: modelOverridesFromEnv(env) }).conversion) && !exportsFrom && (options.from === 'hub' || /^https?:/.test(options.from));
        if (converts) io.stdout.write('Checkpoints are converted to ONNX by `npm run curator -- models convert` (`models prepare` and `npm start` do both).\n');
      } catch (error) {
        reporter.stop();
        fail(command, 'models pull', error);
      }
    });

  models
    .command('convert')
    .description('Convert pulled checkpoints to ONNX (in a worker thread; skipped when curator-conversion.json still matches)')
    .option('--only <roles>', rolesHelp)
    .option('--precision <list>', 'fp32 and/or fp16, comma-separated (default: CURATOR_PRECISION, auto = the device\'s preferred one)')
    .option('--force', 'convert again even when the record matches')
    .action(async (options: { only?: string; precision?: string; force?: boolean }, command: Command) => {
      const reporter = progressReporter(io);
      try {
        const env = config();
        const { modelsDir, set } = settings(env);
        if (set === 'test') {
          io.stdout.write(`CURATOR_MODELS=test: run \`${prepareCommandLine}\` (it writes and converts the test set).\n`);
          return;
        }
        const overrides = modelOverridesFromEnv(env);
        const wanted = parseConvertible(options.precision);
        const fallback = wanted ? undefined : await wantedPrecision(env);
        for (const role of parseRoles(options.only) ?? allRoles) {
          const entry = modelEntry(role, { set, overrides });
          if (!entry.conversion) {
            io.stdout.write(`${role}: ${entry.id} is fetched as published ONNX, not converted.\n`);
            continue;
          }
          const precisions = wanted ?? [fallback && entry.precisions[fallback] && (convertiblePrecisions as readonly string[]).includes(fallback) ? (fallback as ConvertiblePrecision) : 'fp32'];
          await convertModel(entry, modelsDir, { precisions, onProgress: reporter.onProgress, ...(options.force ? { force: true } : {}) });
        }
        reporter.stop();
      } catch (error) {
        reporter.stop();
        fail(command, 'models convert', error);
      }
    });

  models
    .command('list')
    .description('Show each role: model, precision, size on disk, verified or not')
    .option('--verify', 'hash files that changed since they were last verified')
    .option('--json', 'machine-readable output')
    .action(async (options: { verify?: boolean; json?: boolean }) => {
      const env = config();
      const { modelsDir, set } = settings(env);
      const rows = await listModels({ modelsDir, set, overrides: modelOverridesFromEnv(env), ...(options.verify ? { verify: true } : {}) });
      if (options.json) {
        io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const table = [['ROLE', 'MODEL', 'REVISION', 'PRECISION', 'SIZE', 'STATUS']];
      for (const row of rows) {
        const status = row.status === 'missing' ? `missing (${row.missingFiles.length} files)` : row.status === 'mismatch' ? `MISMATCH: ${row.mismatchedFiles.join(', ')}` : row.status;
        table.push([row.role, row.id, row.revision.length === 40 ? row.revision.slice(0, 12) : row.revision, row.precision, row.status === 'missing' && row.sizeBytes === 0 ? '-' : formatBytes(row.sizeBytes), status]);
      }
      const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
      for (const cells of table) io.stdout.write(`${cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
      io.stdout.write(`\nMODELS_DIR=${modelsDir}  CURATOR_MODELS=${set}${rows.some((r) => r.status === 'unchecked') ? '  (run with --verify to hash changed files)' : ''}\n`);
    });

  models
    .command('parity')
    .description("Run Curator's converted model and a reference ONNX export (optimum's, or Xenova/t5-small) on fixed inputs and compare")
    .argument('<role>', allRoles.join(' | '))
    .requiredOption('--reference <folder>', 'the reference export (optimum layout)')
    .option('--model <folder>', "Curator's model folder (default: the role's folder in MODELS_DIR)")
    .option('--precision <precision>', "which of Curator's files: fp32 or fp16", 'fp32')
    .option('--tolerance <number>', 'largest |difference| still counted as a match', '0.001')
    .option('--json', 'machine-readable output')
    .action(async (role: string, options: { reference: string; model?: string; precision: string; tolerance: string; json?: boolean }, command: Command) => {
      let report: ParityReport;
      try {
        const [parsedRole] = parseRoles(role) ?? [];
        const env = config();
        const { modelsDir, set } = settings(env);
        const precision = parseConvertible(options.precision)?.[0] ?? 'fp32';
        const tolerance = Number(options.tolerance);
        if (!Number.isFinite(tolerance) || tolerance < 0) throw new Error(`--tolerance ${options.tolerance}: a number >= 0`);
        const modelDir = options.model ? resolve(options.model) : resolveModel(parsedRole!, { modelsDir, set, overrides: modelOverridesFromEnv(env) }).dir;
        report = await runParity({ role: parsedRole!, modelDir, referenceDir: resolve(options.reference), precision, tolerance });
      } catch (error) {
        fail(command, 'models parity', error);
        return;
      }
      io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatParity(report)}\n`);
      if (!report.match) command.error(`models parity: ${report.modelDir} and ${report.referenceDir} differ beyond ${report.tolerance}`, { exitCode: 2, code: 'curator.parity_mismatch' });
    });

  models
    .command('export')
    .description("The independent Python route: export with Hugging Face optimum in docker/models.Dockerfile (prints the steps when Docker is not available)")
    .option('--only <roles>', 'comma-separated roles to export')
    .option('--push <s3url>', 'also upload the result to s3://bucket/prefix')
    .option('--dry-run', 'print the commands instead of running them')
    .action(async (options: { only?: string; push?: string; dryRun?: boolean }, command: Command) => {
      const { modelsDir } = settings(config());
      const rolesWanted = parseRoles(options.only);
      const instructions = exportInstructions({ out: modelsDir, ...(rolesWanted ? { roles: rolesWanted } : {}), ...(options.push ? { push: options.push } : {}) });
      if (options.dryRun || !dockerAvailable()) {
        io.stdout.write(`${options.dryRun ? '' : 'Docker is not available here.\n\n'}${instructions}\n`);
        return;
      }
      const run = (args: string[]) =>
        new Promise<number>((done) => spawn('docker', args, { stdio: 'inherit' }).on('close', (code) => done(code ?? 1)).on('error', () => done(1)));
      const built = await run(['build', '-f', 'docker/models.Dockerfile', '-t', 'curator-model-export', '.']);
      if (built !== 0) command.error(`docker build failed (exit ${built})`, { exitCode: built });
      const args = ['run', '--rm', '-v', `${modelsDir}:/out`, '-e', 'HF_TOKEN', '-e', 'AWS_ACCESS_KEY_ID', '-e', 'AWS_SECRET_ACCESS_KEY', '-e', 'AWS_ENDPOINT_URL', 'curator-model-export', '--out', '/out'];
      if (rolesWanted) args.push('--only', rolesWanted.join(','));
      if (options.push) args.push('--push', options.push);
      const exported = await run(args);
      if (exported !== 0) command.error(`the export failed (exit ${exported})`, { exitCode: exported });
      io.stdout.write(`Exported into ${modelsDir}; compare with \`npm run curator -- models parity <role> --reference <folder>\`.\n`);
    });
}

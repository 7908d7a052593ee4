import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isCuratorError } from '@curator/contracts';
import { loadEnv, type Env } from '@curator/config';
import { storageOptionsFromEnv, type ObjectStorageOptions } from '@curator/storage';
import {
  listModels,
  modelOverridesFromEnv,
  precisionSchema,
  pullModels,
  roleSchema,
  roles as allRoles,
  type ModelCheck,
  type ModelRole,
  type ModelSet,
  type Precision,
  type PullEvent,
} from '@curator/models';

export interface ModelsCommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Variables to parse instead of the process environment (tests). */
  env?: Record<string, string | undefined>;
}

/** The command that fetches missing models, as users type it. */
export const pullCommandLine = 'npm run curator -- models pull';

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
    `Fetch them with:  ${pullCommandLine}`,
    `  (from the Hugging Face Hub; without internet use --from s3://<bucket>/<prefix> or --from <folder> holding <model-id>/ folders)`,
    `Or run on the small generated test models, no downloads needed:  CURATOR_MODELS=test npm start`,
  );
  return lines.join('\n');
}

function settings(env: Env): { modelsDir: string; set: ModelSet } {
  return { modelsDir: resolve(env.MODELS_DIR), set: env.CURATOR_MODELS };
}

/** The S3 client settings of Curator's config (same parsing as the gateway and worker) for an s3:// model source. */
function s3SourceSettings(storage: ObjectStorageOptions): NonNullable<Parameters<typeof pullModels>[0]['s3']> {
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

// cli-progress ships no types; this is the part of its API used here.
interface ProgressBar {
  update(value: number, payload?: object): void;
  setTotal(total: number): void;
}
interface MultiBar {
  create(total: number, start: number, payload?: object): ProgressBar;
  log(text: string): void;
  stop(): void;
}
interface CliProgress {
  MultiBar: new (options: object, preset?: object) => MultiBar;
  Presets: Record<string, object>;
}

/** Renders puller events: one bar per file on a terminal, plain lines otherwise (CI, logs). */
export function progressReporter(io: Pick<ModelsCommandIo, 'stdout'>): { onProgress: (event: PullEvent) => void; stop: () => void } {
  const line = (text: string) => io.stdout.write(`${text}\n`);
  if (io.stdout.isTTY) {
    const cliProgress = createRequire(import.meta.url)('cli-progress') as CliProgress;
    const multibar = new cliProgress.MultiBar(
      {
        stream: io.stdout,
        hideCursor: true,
        clearOnComplete: false,
        format: ' {bar} {percentage}% {done}/{size} {file}',
        formatValue: (value: number, _options: unknown, type: string) => (type === 'value' || type === 'total' ? formatBytes(value) : String(value)),
      },
      cliProgress.Presets['shades_classic'],
    );
    const bars = new Map<string, ProgressBar>();
    return {
      onProgress(event) {
        const key = `${event.id}/${'path' in event ? event.path : ''}`;
        switch (event.type) {
          case 'model-skip':
            multibar.log(`${event.role}: ${event.id} already present\n`);
            break;
          case 'model-start':
            multibar.log(`${event.role}: ${event.id} from ${event.source} (${event.files.length} files)\n`);
            break;
          case 'file-start': {
            const size = event.size ?? 0;
            const payload = { file: `${event.role}: ${event.path}`, done: formatBytes(event.resumeFrom), size: event.size === undefined ? '?' : formatBytes(size) };
            const bar = bars.get(key);
            if (bar) {
              bar.setTotal(size);
              bar.update(event.resumeFrom, payload);
            } else bars.set(key, multibar.create(size, event.resumeFrom, payload));
            break;
          }
          case 'file-progress':
            bars.get(key)?.update(event.received, { done: formatBytes(event.received) });
            break;
          case 'file-retry':
            multibar.log(`${event.id}/${event.path}: ${event.message}; retrying (attempt ${event.attempt})\n`);
            break;
          case 'file-restart':
            multibar.log(`${event.id}/${event.path}: ${event.reason}\n`);
            break;
          case 'file-done':
            bars.get(key)?.update(event.size, { done: formatBytes(event.size), size: formatBytes(event.size) });
            break;
          case 'model-done':
            multibar.log(`${event.role}: ${event.id} ready in ${event.dir}\n`);
            break;
        }
      },
      stop: () => multibar.stop(),
    };
  }
  const reported = new Map<string, number>();
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
        case 'file-progress': {
          // A line per quarter keeps logs readable for multi-GB files.
          if (event.size === undefined || event.size === 0) return;
          const quarter = Math.floor((event.received / event.size) * 4);
          const key = `${event.id}/${event.path}`;
          if (quarter > (reported.get(key) ?? 0) && quarter < 4) {
            reported.set(key, quarter);
            line(`  ${key}: ${quarter * 25}%`);
          }
          return;
        }
        case 'file-retry':
          return line(`  ${event.id}/${event.path}: ${event.message}; retrying (attempt ${event.attempt})`);
        case 'file-restart':
          return line(`  ${event.id}/${event.path}: ${event.reason}`);
        case 'file-done':
          return line(`  ${event.id}/${event.path}: done, ${formatBytes(event.size)}, sha256 ${event.sha256.slice(0, 12)}${event.checked ? ' (verified)' : ' (no recorded sha256 to check)'}`);
        case 'model-done':
          return line(`${event.role}: ${event.id} ready in ${event.dir}`);
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
    'Curator exports the models that have no published ONNX (sentiment, genre, headline, image) with',
    'docker/models.Dockerfile (optimum at pinned versions). On a machine with Docker and internet:',
    '',
    '  docker build -f docker/models.Dockerfile -t curator-model-export .',
    `  docker run --rm -v "${options.out}:/out" -e HF_TOKEN curator-model-export --out /out${only}${push}`,
    '',
    'It writes <model-id>/ folders in the MODELS_DIR layout plus checksums.json; copy that file over',
    'packages/models/src/checksums.json to pin the sha256 of every file. Details: docs/models.md.',
  ].join('\n');
}

/** Adds `models pull | list | export` to the Curator CLI. */
export function registerModelsCommand(program: Command, io: ModelsCommandIo = { stdout: process.stdout, stderr: process.stderr }): void {
  // Parsed when a command runs (the one config parser; a wrong variable is named there).
  const config = (): Env => loadEnv(io.env);
  const models = program.command('models').description('Pull, list and export the ONNX models (MODELS_DIR, CURATOR_MODELS)');

  models
    .command('pull')
    .description('Fetch the models into MODELS_DIR (resumable; a model appears only once whole and verified)')
    .option('--only <roles>', `comma-separated roles: ${allRoles.join(', ')}`)
    .option('--precision <precision>', 'fp32, fp16 or int8 (roles without it get their default)')
    .option('--from <source>', 'hub, s3://bucket/prefix, an http(s) Hub mirror, or a folder of <model-id>/ folders', 'hub')
    .option('--exports-from <source>', "with --from hub: where Curator's own exports come from (s3://bucket/prefix or a folder); default CURATOR_MODELS_EXPORTS")
    .option('--concurrency <n>', 'files downloaded at once', '4')
    .action(async (options: { only?: string; precision?: string; from: string; exportsFrom?: string; concurrency: string }, command: Command) => {
      const env = config();
      const { modelsDir, set } = settings(env);
      if (set === 'test') {
        io.stdout.write('CURATOR_MODELS=test: the test models are generated, not pulled. Run `npm run models:test`.\n');
        return;
      }
      const reporter = progressReporter(io);
      try {
        const rolesWanted = parseRoles(options.only);
        const precision = parsePrecision(options.precision);
        const result = await pullModels({
          modelsDir,
          set,
          overrides: modelOverridesFromEnv(env),
          from: options.from,
          ...((options.exportsFrom ?? env.CURATOR_MODELS_EXPORTS) ? { exportsFrom: options.exportsFrom ?? env.CURATOR_MODELS_EXPORTS } : {}),
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
            ? `Nothing to do: every model is already present in ${modelsDir}.\n`
            : `Pulled ${result.pulled.map((p) => p.id).join(', ')}${result.skipped.length > 0 ? `; already present: ${result.skipped.map((s) => s.id).join(', ')}` : ''}.\n`,
        );
      } catch (error) {
        reporter.stop();
        const resumable = isCuratorError(error) && error.retryable ? '\nRun the same command again to resume.' : '';
        command.error(`models pull failed: ${(error as Error).message}${resumable}`, { exitCode: 1, code: isCuratorError(error) ? `curator.${error.code}` : 'curator.error' });
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
        table.push([row.role, row.id, row.revision, row.precision, row.status === 'missing' && row.sizeBytes === 0 ? '-' : formatBytes(row.sizeBytes), status]);
      }
      const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
      for (const cells of table) io.stdout.write(`${cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
      io.stdout.write(`\nMODELS_DIR=${modelsDir}  CURATOR_MODELS=${set}${rows.some((r) => r.status === 'unchecked') ? '  (run with --verify to hash changed files)' : ''}\n`);
    });

  models
    .command('export')
    .description("Build Curator's own ONNX exports with docker/models.Dockerfile (prints the steps when Docker is not available)")
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
      io.stdout.write(`Exported into ${modelsDir}; ${modelsDir}/checksums.json holds the sha256 list for packages/models/src/checksums.json.\n`);
    });
}

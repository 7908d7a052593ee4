import { precisions, roles, type ModelRole, type Precision } from './manifest.ts';
import { modelEntry, resolveEntry, type ModelsOptions, type ResolvedModel } from './resolve.ts';
import { fileState, readMarker, sha256OfFile, writeMarker, type FileState, type VerificationMarker } from './verify.ts';
import { readConversionRecord, type ConversionRecord } from './convert.ts';

/**
 * verified: every file hashed and equal to its recorded sha256.
 * unpinned: every file hashed, but neither the manifest nor the conversion record has a sha256 for some (nothing to compare with).
 * unchecked: some file changed since it was last hashed (run with verify).
 * mismatch: some file differs from its recorded sha256.
 * missing: some file is absent.
 */
export type VerificationStatus = 'verified' | 'unpinned' | 'unchecked' | 'mismatch' | 'missing';

export interface ModelListing {
  role: ModelRole;
  id: string;
  revision: string;
  precision: Precision;
  dir: string;
  /** Bytes on disk of this precision's files (shared files included). */
  sizeBytes: number;
  status: VerificationStatus;
  verified: boolean;
  missingFiles: string[];
  mismatchedFiles: string[];
}

/** What a file should hash to: its pin in the manifest, else what the conversion recorded writing (or reading) it as. */
function expectedSha256(path: string, pinned: string | undefined, model: ResolvedModel, record: ConversionRecord | undefined): string | undefined {
  if (pinned !== undefined) return pinned;
  if (!record || record.revision !== model.revision) return undefined;
  const precision = model.precision as keyof ConversionRecord['conversions'];
  return record.conversions[precision]?.outputs[path]?.sha256 ?? record.sources[path]?.sha256;
}

async function inspect(model: ResolvedModel, marker: VerificationMarker | undefined, verify: boolean, record: ConversionRecord | undefined): Promise<{ listing: ModelListing; marker: VerificationMarker | undefined }> {
  let next = marker;
  const states: { path: string; expected?: string; state: FileState }[] = [];
  for (const f of model.files) {
    let state = await fileState(f, next);
    if (verify && state.kind === 'unchecked') {
      const sha256 = await sha256OfFile(f.absolutePath);
      state = { ...state, kind: 'hashed', sha256 };
      next = { id: model.id, revision: next?.revision ?? model.revision, files: { ...next?.files, [f.path]: { sha256, size: state.size, mtimeMs: state.mtimeMs } } };
    }
    const expected = expectedSha256(f.path, f.sha256, model, record);
    states.push(expected === undefined ? { path: f.path, state } : { path: f.path, expected, state });
  }
  const missingFiles = states.filter((s) => s.state.kind === 'missing').map((s) => s.path);
  const mismatchedFiles = states.filter((s) => s.state.kind === 'hashed' && s.expected !== undefined && s.state.sha256 !== s.expected).map((s) => s.path);
  const status: VerificationStatus =
    missingFiles.length > 0 ? 'missing'
    : mismatchedFiles.length > 0 ? 'mismatch'
    : states.some((s) => s.state.kind === 'unchecked') ? 'unchecked'
    : states.some((s) => s.expected === undefined) ? 'unpinned'
    : 'verified';
  const sizeBytes = states.reduce((sum, s) => sum + (s.state.kind === 'missing' ? 0 : s.state.size), 0);
  return {
    listing: { role: model.role, id: model.id, revision: next?.revision ?? model.revision, precision: model.precision, dir: model.dir, sizeBytes, status, verified: status === 'verified', missingFiles, mismatchedFiles },
    marker: next,
  };
}

/**
 * One row per role and precision on disk (or one `missing` row for a role with none).
 * Cheap by default: files are only hashed with `verify: true`, and then only those that changed.
 */
export async function listModels(options: ModelsOptions & { roles?: readonly ModelRole[]; verify?: boolean }): Promise<ModelListing[]> {
  const rows: ModelListing[] = [];
  for (const role of options.roles ?? roles) {
    const entry = modelEntry(role, options);
    const wanted = options.precision !== undefined && entry.precisions[options.precision] ? options.precision : entry.defaultPrecision;
    const dir = resolveEntry(entry, options.modelsDir).dir;
    let marker = await readMarker(dir);
    const initialMarker = marker;
    const record = await readConversionRecord(dir);
    const found: ModelListing[] = [];
    let wantedRow: ModelListing | undefined;
    for (const precision of precisions) {
      if (!entry.precisions[precision]) continue;
      const inspected = await inspect(resolveEntry(entry, options.modelsDir, precision), marker, options.verify === true, record);
      marker = inspected.marker;
      if (inspected.listing.status !== 'missing') found.push(inspected.listing);
      if (precision === wanted) wantedRow = inspected.listing;
    }
    if (marker !== initialMarker && marker !== undefined) await writeMarker(dir, marker);
    if (found.length > 0) rows.push(...found);
    else if (wantedRow) rows.push(wantedRow);
  }
  return rows;
}

// What the studio keeps in this browser: the API key, and notes on the jobs it made (a job view does
// not carry its request, and comparing two runs' knobs needs it; a rerun's answer names the stages
// it reused). The list of jobs itself is the API's (`GET /jobs`); the jobs are always read from it.
import type { JobRequestInput } from '@curator/client';

export interface JobNote {
  id: string;
  /** The request, where this browser made it (a rerun's: the original's with the overrides over it, when the original's is known). */
  request?: JobRequestInput;
  submittedAt: string;
  /** The job this one reran with changed knobs. */
  rerunOf?: string;
  /** What the rerun's answer said it reused (stages whose inputs did not change). */
  reusedStages?: string[];
}

const keyName = 'curator.studio.apiKey';
const notesName = 'curator.studio.notes.v2';
/** Before the API listed jobs, the history was this list of submitted jobs: read once as notes. */
const oldHistoryName = 'curator.studio.history.v1';
/** Enough for a working week; older notes drop off (their jobs expire on the server anyway). */
const maxNotes = 200;

/** localStorage, or nothing where it is refused (private windows with storage off, sandboxed frames). */
function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export function loadApiKey(): string | null {
  return storage()?.getItem(keyName) || null;
}

export function saveApiKey(key: string | null): void {
  const store = storage();
  if (!store) return;
  if (key) store.setItem(keyName, key);
  else store.removeItem(keyName);
}

function isNote(value: unknown): value is JobNote {
  const note = value as JobNote;
  if (typeof note !== 'object' || note === null || typeof note.id !== 'string' || typeof note.submittedAt !== 'string') return false;
  const input = (note.request as { input?: unknown } | undefined)?.input;
  return note.request === undefined || (typeof input === 'object' && input !== null);
}

function readList(name: string): JobNote[] {
  try {
    const parsed: unknown = JSON.parse(storage()?.getItem(name) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter(isNote) : [];
  } catch {
    return [];
  }
}

/** Newest first. */
export function loadNotes(): JobNote[] {
  const notes = readList(notesName);
  return notes.length > 0 ? notes : readList(oldHistoryName);
}

export function saveNotes(notes: readonly JobNote[]): JobNote[] {
  const kept = notes.slice(0, maxNotes);
  try {
    storage()?.setItem(notesName, JSON.stringify(kept));
  } catch {
    // Full storage: the notes still work for this visit.
  }
  return kept;
}

// What the studio keeps in this browser: the API key, and the jobs it submitted with their requests
// (a job view does not carry its request, and a rerun needs it). Until the API lists a caller's
// jobs (`GET /jobs`), this list is the history; the jobs themselves are always read from the API.
import type { JobRequestInput } from '@curator/client';

export interface HistoryEntry {
  id: string;
  request: JobRequestInput;
  submittedAt: string;
  /** The job this one reran with changed knobs. */
  rerunOf?: string;
}

const keyName = 'curator.studio.apiKey';
const historyName = 'curator.studio.history.v1';
/** Enough for a working week; older entries drop off (their jobs expire on the server anyway). */
const maxEntries = 200;

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

function isEntry(value: unknown): value is HistoryEntry {
  const entry = value as HistoryEntry;
  const input = (entry?.request as { input?: unknown } | undefined)?.input;
  return typeof entry === 'object' && entry !== null && typeof entry.id === 'string' && typeof entry.submittedAt === 'string' && typeof input === 'object' && input !== null;
}

/** Newest first. */
export function loadHistory(): HistoryEntry[] {
  try {
    const parsed: unknown = JSON.parse(storage()?.getItem(historyName) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
  } catch {
    return [];
  }
}

export function saveHistory(entries: readonly HistoryEntry[]): HistoryEntry[] {
  const kept = entries.slice(0, maxEntries);
  try {
    storage()?.setItem(historyName, JSON.stringify(kept));
  } catch {
    // Full storage: the list still works for this visit.
  }
  return kept;
}

import type { ObjectStorage } from './object-storage.ts';
import type { JobView, StoredJobView } from '@curator/contracts';

interface StoredRef {
  key: string;
  contentType: string;
}

function isStoredRef(value: unknown): value is StoredRef {
  return typeof value === 'object' && value !== null && typeof (value as StoredRef).key === 'string' && typeof (value as StoredRef).contentType === 'string';
}

/** Every stored object in a result, wherever it sits, with a presigned URL. */
async function presignObjects(value: unknown, storage: ObjectStorage): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map((item) => presignObjects(item, storage)));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) out[key] = await presignObjects(child, storage);
  if (isStoredRef(out)) Object.assign(out, await storage.presignGet(out.key));
  return out;
}

/**
 * Results keep object keys, never URLs: a presigned URL is minted fresh on every read, so a client
 * always gets one with its full lifetime ahead of it. The response schema (the job view's union by
 * type) checks the outcome.
 */
export async function presignResult(view: StoredJobView, storage: ObjectStorage): Promise<JobView> {
  if (view.result === null) return view as JobView;
  const result = (await presignObjects(view.result, storage)) as Record<string, unknown>;
  if (view.type === 'curate') {
    // The curate result names its two pictures' URLs at the top of `image`, as the contract says.
    const image = result.image as { image: { url: string }; card: { url: string } };
    result.image = { url: image.image.url, cardUrl: image.card.url, ...image };
  }
  return { ...view, result } as JobView;
}

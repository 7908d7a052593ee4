import type { ObjectStorage } from './object-storage.ts';
import type { JobView, StoredJobView } from '@curator/contracts';

interface StoredRef {
  key: string;
  contentType: string;
}

function isStoredRef(value: unknown): value is StoredRef {
  return typeof value === 'object' && value !== null && typeof (value as StoredRef).key === 'string' && typeof (value as StoredRef).contentType === 'string';
}

/**
 * A copy of `value` in which every stored object, wherever it sits, has a presigned URL. The walk is synchronous and
 * the URLs are signed together: awaiting each property in turn cost a promise and a microtask per value of the result.
 */
async function presignObjects(value: unknown, storage: ObjectStorage): Promise<unknown> {
  const refs: Array<Record<string, unknown> & StoredRef> = [];
  const copy = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(copy);
    if (typeof item !== 'object' || item === null) return item;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(item)) out[key] = copy(child);
    if (isStoredRef(out)) refs.push(out);
    return out;
  };
  const result = copy(value);
  const urls = await Promise.all(refs.map((ref) => storage.presignGet(ref.key)));
  refs.forEach((ref, i) => Object.assign(ref, urls[i]));
  return result;
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

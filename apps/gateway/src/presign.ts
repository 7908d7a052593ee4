import type { ObjectStorage } from '@curator/storage';

interface StoredRef {
  key: string;
  contentType: string;
  url?: string;
  expiresAt?: string;
}

function isStoredRef(value: unknown): value is StoredRef {
  return typeof value === 'object' && value !== null && typeof (value as StoredRef).key === 'string' && typeof (value as StoredRef).contentType === 'string';
}

/**
 * Results keep object keys, never URLs: a presigned URL is minted fresh on every read, so a
 * client always gets one with its full lifetime ahead of it.
 */
export async function presignResult(result: unknown, storage: ObjectStorage): Promise<unknown> {
  if (Array.isArray(result)) return Promise.all(result.map((item) => presignResult(item, storage)));
  if (typeof result !== 'object' || result === null) return result;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) out[key] = await presignResult(value, storage);
  if (isStoredRef(out)) {
    const { url, expiresAt } = await storage.presignGet(out.key);
    out.url = url;
    out.expiresAt = expiresAt;
  }
  // The curate result names its two pictures' URLs at the top of `image`, as the contract says.
  const image = out.image as { image?: StoredRef; card?: StoredRef } | undefined;
  if (image && isStoredRef(image.image) && isStoredRef(image.card)) {
    out.image = { ...image, url: image.image.url, cardUrl: image.card.url };
  }
  return out;
}

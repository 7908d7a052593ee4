/** Redis keys of `@curator/access`, all under the deployment's QUEUE_PREFIX. */
export function accessKeys(prefix: string) {
  const base = `${prefix}:access`;
  return {
    key: (id: string) => `${base}:key:${id}`,
    lastUsed: (id: string) => `${base}:key:${id}:used`,
    index: `${base}:keys`,
    active: `${base}:active`,
    quota: (keyId: string, day: string) => `${base}:quota:${keyId}:${day}`,
    rateLimit: `${base}:rate:`,
  };
}

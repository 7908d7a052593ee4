/**
 * Standard Webhooks symmetric secrets: `whsec_` followed by the base64 of 24 to 64 random bytes. The
 * bytes after decoding are the HMAC key (not the text of the secret).
 */
export const webhookSecretPrefix = 'whsec_';
export const minSecretBytes = 24;
export const maxSecretBytes = 64;

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why `secret` is not a usable signing secret, or null when it is. Never repeats the secret. */
export function webhookSecretProblem(secret: string): string | null {
  if (!secret.startsWith(webhookSecretPrefix)) return `must start with "${webhookSecretPrefix}"`;
  const encoded = secret.slice(webhookSecretPrefix.length);
  if (!base64Pattern.test(encoded)) return `must be "${webhookSecretPrefix}" followed by standard base64`;
  const bytes = Buffer.from(encoded, 'base64').byteLength;
  if (bytes < minSecretBytes || bytes > maxSecretBytes) return `must encode ${minSecretBytes} to ${maxSecretBytes} bytes (it encodes ${bytes})`;
  return null;
}

/** The HMAC key of a `whsec_` secret; throws (without the secret in the message) when it is malformed. */
export function webhookSecretKey(secret: string): Buffer {
  const problem = webhookSecretProblem(secret);
  if (problem) throw new TypeError(`Not a webhook signing secret: it ${problem}`);
  return Buffer.from(secret.slice(webhookSecretPrefix.length), 'base64');
}

export { signWebhook, signatureVersion, type SignedHeaders } from './signature.ts';
export { webhookSecretKey, webhookSecretProblem, webhookSecretPrefix, minSecretBytes, maxSecretBytes } from './secrets.ts';
export { webhookUrlProblem, type WebhookUrlRules } from './url-rules.ts';
export { retryDelays, retryDelayMs, parseRetryAfter, type RetrySchedule } from './retry.ts';
export { attemptWebhook, webhookUserAgent, type WebhookAttempt, type AttemptResult } from './delivery.ts';

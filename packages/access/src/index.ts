export { KeyStore, publicKey, keyContentPolicySchema, newApiKeySchema, type StoredApiKey, type NewApiKey, type CreatedApiKey, type Verification, type KeyContentPolicy } from './keys.ts';
export { DailyJobQuota, utcDay, nextUtcMidnight, secondsUntil, type QuotaCharge } from './quota.ts';
export {
  ContentPolicy,
  contentPolicyError,
  contentPolicyFromEnv,
  policyForOwner,
  type KeyPolicySource,
  normalizeForTerms,
  wordsOf,
  type ContentCheck,
  type ContentField,
  type ContentRules,
  type ContentViolation,
} from './content-policy.ts';
export { submittedContent, submittedJobCount, rerunContent, generatedContent } from './fields.ts';
export { apiKeySecretPrefix, keyIdOfSecret, isKeyId, hashSecret } from './secrets.ts';
export { accessKeys } from './redis-keys.ts';

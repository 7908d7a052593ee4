export {
  CuratorClient,
  isFinished,
  isJobView,
  type CuratorClientOptions,
  type RequestOptions,
  type SubmitOptions,
  type ListQuery,
  type EventsOptions,
  type WaitOptions,
  type JobStreamEvent,
  type JobNotFound,
  type FeedbackInput,
  type RerunInput,
} from './client.ts';
export { CuratorApiError, isCuratorApiError, clientErrorCodes, type ApiErrorCode, type ClientErrorCode } from './errors.ts';
export { newIdempotencyKey } from './ids.ts';
export type { RetryPolicy } from './retry.ts';
// The shapes the client speaks in, from the contracts, so callers need no second import.
export type {
  JobAccepted,
  JobRequestInput,
  JobView,
  JobViewOf,
  JobType,
  JobStatus,
  Stage,
  ErrorDetail,
  ResultOf,
  JobPage,
  RerunAccepted,
  Feedback,
} from '@curator/contracts';
export { verifyWebhook, WebhookVerificationError, isWebhookVerificationError, defaultWebhookToleranceSeconds, type VerifyWebhookOptions, type WebhookHeaders, type WebhookVerificationReason, type WebhookPayload } from './webhooks.ts';

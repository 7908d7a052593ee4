// Gateway side
export { JobQueues, everyJob, requestFingerprint, type JobQueuesOptions, type QueueDepth, type Viewer, type SubmitOptions, type AcceptedJob, type JobsPage } from './job-queues.ts';
export { FeedbackLog, feedbackStreamLength } from './feedback.ts';
export { anonymousOwner } from './job-data.ts';
export type { JobWatch } from './job-events.ts';
export { defaultLinks, type JobLinks } from './job-view.ts';
// Worker side
export { startJobRuntime, type JobRuntime, type JobRuntimeOptions, type RuntimeHooks, type RuntimeLogger, type AttemptOutcome, type WorkerDescription } from './runtime.ts';
export type { JobContext, StageHandler, StageHandlers } from './handlers.ts';
export type { StageOutcome, StageOptions, StageContext } from './stage-tracker.ts';
export { stagePlan, stageNames, reusableStages, curateGeneration, curateSummaryGeneration, curateHeadlineGeneration, curateImageParams, curateImagePrompt, isDeterministicGeneration, isDeterministicImage, type PlannedStage } from './stage-plan.ts';
// Both
export { queueSettingsFromEnv, type QueueSettings } from './settings.ts';
export { reapExpiredJobs } from './lifetime.ts';
export { pools, poolOfJobType, poolForJobType, jobTypesForPool, isJobId, keys, jobLockKey, type Pool } from './names.ts';
export { connectToolRedis, createRedis, defaultRedisUrl } from './connection.ts';
export { readHeartbeats, heartbeatMissedPeriods } from './heartbeat.ts';
export { WebhookOutbox, startWebhookDelivery, jobWebhook, webhookKeys, webhookQueueName, type WebhookMessage, type DeliveryResult, type WebhookOutboxOptions, type WebhookDeliveryOptions, type WebhookDeliveries } from './webhooks.ts';

export { CuratorClient, isFinished, type CuratorClientOptions, type RequestOptions, type EventsOptions, type WaitOptions, type JobStreamEvent, type JobNotFound } from './client.ts';
export { CuratorApiError, isCuratorApiError, clientErrorCodes, type ApiErrorCode, type ClientErrorCode } from './errors.ts';
// The shapes the client speaks in, from the contracts, so callers need no second import.
export type { JobAccepted, JobRequestInput, JobView, JobViewOf, JobType, JobStatus, Stage, ErrorDetail, ResultOf } from '@curator/contracts';

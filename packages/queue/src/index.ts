export { pools, poolForJobType, keys, type Pool } from './names.ts';
export { jobDataSchema, encodeFailure, decodeFailure, type JobData, type JobProgressData, type JobReturn } from './job-data.ts';
export { createRedis, defaultRedisUrl } from './connection.ts';
export { toJobView } from './job-view.ts';
export { JobQueues, defaultLinks, type JobQueuesOptions, type QueueDepth } from './job-queues.ts';
export { publishHeartbeat, readHeartbeats, removeHeartbeat, heartbeatMissedPeriods } from './heartbeat.ts';

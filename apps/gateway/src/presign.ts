// Presigning moved to @curator/storage: workers need it too (webhook payloads carry the job as GET /jobs/:id shows it).
export { presignResult } from '@curator/storage';

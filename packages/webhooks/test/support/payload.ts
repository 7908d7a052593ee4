import type { WebhookPayload } from '@curator/contracts';

/** A fixed clock for signatures in tests. */
export const now = new Date('2030-01-02T03:04:05Z');

/** A valid Curator webhook payload: a running classify job. */
export const samplePayload: WebhookPayload = {
  type: 'job.progress',
  timestamp: now.toISOString(),
  data: {
    id: '5d8f1c2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f',
    type: 'classify',
    status: 'running',
    progress: { percent: 50, stage: 'sentiment' },
    stages: [{ name: 'extract', status: 'succeeded', durationMs: 3, cached: false }],
    attempts: { made: 1, max: 3 },
    result: null,
    error: null,
    createdAt: now.toISOString(),
    startedAt: now.toISOString(),
    finishedAt: null,
    deadline: null,
    expiresAt: null,
    queueWaitMs: 12,
    runMs: null,
    rerunOf: null,
    history: [],
    webhook: { url: 'https://hooks.example.com/curator', events: ['progress'], deliveries: [] },
    links: { self: '/jobs/5d8f1c2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f', events: '/jobs/5d8f1c2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f/events' },
  },
};

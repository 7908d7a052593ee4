import type { WorkerMetrics } from '@curator/telemetry';
import type { RuntimeHooks } from '@curator/queue';
import type { ModelHost } from './model-host.ts';

/** The job runtime's events as the worker's metrics (docs/metrics.md). */
export function metricsHooks(metrics: WorkerMetrics, models: ModelHost): RuntimeHooks {
  const lastBusy = new Map<string, number>();
  return {
    jobStarted({ type, pool, queueWaitSeconds }) {
      metrics.activeJobs.inc({ pool });
      if (queueWaitSeconds !== null) metrics.jobQueueWait.observe({ type }, queueWaitSeconds);
    },
    jobSettled({ type, pool, outcome, error, attempts, secondsSinceSubmitted }) {
      metrics.activeJobs.dec({ pool });
      if (outcome === 'succeeded') metrics.jobsCompleted.inc({ type });
      if (outcome === 'failed' || outcome === 'canceled') metrics.jobsFailed.inc({ type, code: error?.code ?? 'internal_error' });
      if (outcome === 'succeeded' || outcome === 'failed' || outcome === 'canceled') {
        metrics.jobDuration.observe({ type, outcome }, secondsSinceSubmitted);
        metrics.jobAttempts.observe({ type }, attempts);
      }
    },
    stageFinished({ name, model, seconds }) {
      metrics.stageDuration.observe({ stage: name, model: model ?? 'none' }, seconds);
    },
    heartbeat() {
      metrics.lastHeartbeat.set(Date.now() / 1000);
      for (const { model, busyMs } of models.busy()) {
        const delta = busyMs - (lastBusy.get(model) ?? 0);
        lastBusy.set(model, busyMs);
        if (delta > 0) metrics.inferenceBusySeconds.inc({ model, device: models.device.device }, delta / 1000);
      }
    },
  };
}

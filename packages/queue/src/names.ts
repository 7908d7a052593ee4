import type { JobType } from '@curator/contracts';

/** Worker pools, one BullMQ queue each: image workers scale apart from text workers. */
export const pools = ['text', 'image'] as const;
export type Pool = (typeof pools)[number];

export function poolForJobType(type: JobType): Pool {
  return type === 'text-to-image' ? 'image' : 'text';
}

/** Redis keys outside BullMQ's own, all under the deployment's prefix. */
export function keys(prefix: string) {
  return {
    workersIndex: `${prefix}:workers`,
    worker: (id: string) => `${prefix}:worker:${id}`,
    cancelChannel: `${prefix}:cancel`,
    cancelMarker: (jobId: string) => `${prefix}:cancel:${jobId}`,
    stageCache: (hash: string) => `${prefix}:stage-cache:${hash}`,
  };
}

export { startWorker, type RunningWorker, type WorkerDependencies } from './worker.ts';
export { ModelHost, rolesForJobType, jobTypesForPool } from './model-host.ts';

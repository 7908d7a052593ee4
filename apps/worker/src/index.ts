export { startWorker, type RunningWorker, type WorkerDependencies } from './worker.ts';
export { ModelHost, rolesForJobType } from './model-host.ts';

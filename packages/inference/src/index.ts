export { ModelThread, deserializeError, holdModelCalls } from './model-thread.ts';
export type { Engine, EngineModule, EngineHost, EngineCallContext, CallOptions, ModelThreadOptions } from './model-thread.ts';
export { resolveExecutionProviders, sessionOptionsFor, explainCudaFailure, deviceOfProviders } from './device.ts';
export type { DeviceChoice, DeviceRequest, DeviceOptions, ResolvedDevice, ExecutionProviders, ModelSessionConfig } from './device.ts';

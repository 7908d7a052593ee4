export { ModelThread, deserializeError } from './model-thread.ts';
export type { Engine, EngineModule, EngineHost, EngineCallContext, CallOptions, ModelThreadOptions } from './model-thread.ts';

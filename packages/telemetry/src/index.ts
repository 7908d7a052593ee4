export { createLogger, type Logger } from './logger.ts';
export {
  createMetrics,
  type AllMetrics,
  type CommonMetrics,
  type GatewayMetrics,
  type MetricsFor,
  type MetricsOptions,
  type ProcessKind,
  type QueueDepthSample,
  type QueueDepthSource,
  type WorkerCountSample,
  type WorkerCountSource,
  type WorkerMetrics,
} from './metrics.ts';
export { renderMetrics, startMetricsServer, type MetricsServer, type MetricsServerOptions } from './server.ts';

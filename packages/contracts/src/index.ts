export * from './errors.ts';
export * from './jobs.ts';
export * from './version.ts';
export * from './api.ts';
export { schemaExamples, type SchemaExamples } from './examples.ts';

export { buildGateway, type Gateway, type GatewayDependencies } from './app.ts';
export { startGatewayServer, createJobQueues, jobLinks, type GatewayServer } from './server.ts';
export { tidyOpenApi } from './openapi.ts';

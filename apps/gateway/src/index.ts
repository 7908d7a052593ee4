export { buildGateway, type Gateway, type GatewayDependencies } from './app.ts';
export { startGatewayServer, type GatewayServer } from './service.ts';
export { JobChangeNotifier } from './events.ts';

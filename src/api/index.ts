export * from './types.js';
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { ApiReply, reply, type RouteContext, type RouteHandler } from './router.js';
export { ApiError, apiError, statusOf } from './status.js';
export type { Validate, Analyze } from './objects.js';
export { ApiClient, ApiStatusError, ApiUnreachableError, type ApiClientOptions, type ListOptions } from './client.js';

export * from './snapshot.js';
export * from './hosts.js';
export * from './protocol.js';
export * from './services.js';
export * from './registry.js';

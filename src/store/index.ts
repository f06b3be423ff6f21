export * from './types.js';
export { MemoryStore } from './memory.js';
export { FileStore, openFileStore, type FileStoreOptions } from './file.js';
export { normalizeKey, storeKeyOf, isClusterScoped, sameContent } from './state.js';

import type { Scope } from './types.js';

export function createScope(onError: (message: string) => void): Scope {
  const cleanups: (() => unknown)[] = [];
  return {
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    async close() {
      for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
        try {
          await cleanup();
        } catch (err) {
          onError(`cleanup failed: ${(err as Error).message}`);
        }
      }
    },
  };
}

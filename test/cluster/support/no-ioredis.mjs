// Loader hooks that make `ioredis` impossible to resolve and record every attempt, as if it
// were not installed. Used by cluster-lazy.spec.ts through register-no-ioredis.mjs.
import { writeSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  if (specifier === 'ioredis' || specifier.startsWith('ioredis/')) {
    writeSync(2, 'IOREDIS-RESOLVED\n'); // the hooks run on their own thread: write synchronously
    const error = new Error(`Cannot find package 'ioredis'`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}

import { register } from 'node:module';
register('./no-ioredis.mjs', import.meta.url);

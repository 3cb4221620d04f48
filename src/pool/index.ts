export { Pool } from './pool.js';
export { PoolError, type PoolErrorKind, type PoolOptions, type JobOptions } from './options.js';
export type { Job } from './driver.js';
export type { JobResult } from './result.js';
export type { PoolStats } from './stats.js';

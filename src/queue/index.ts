export { QueueWorker, type QueueWorkerOptions } from './worker.js';
export { JobClient, type JobClientOptions, type SubmitOptions } from './client.js';
export type { QueueResult } from './wire.js';

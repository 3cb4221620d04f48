/** pypy-box: run untrusted Python in a sandbox driven by this controller. */
export { Controller } from './controller/controller.js';
export { type GuestTransport } from './controller/launch/spawn.js';
export { closeSpareSupervisor } from './controller/launch/spare.js';
export {
  LIBRARY_LIMITS,
  OptionError,
  type ControllerOptions,
  type IdentityRange,
  type Limits,
  type StdinOption,
  type OutputOption,
} from './controller/options.js';
export {
  SandboxError,
  type RunResult,
  type Outcome,
  type LimitHit,
  type LimitName,
  type DeniedCall,
  type SandboxErrorKind,
} from './controller/result.js';
export { CallContext, refuse, constant, type Handler, type Answer } from './handlers/context.js';
export { pypyHandlers } from './handlers/pypy/table.js';
export { VirtualFS, DEFAULT_TMP_QUOTA, type VfsOptions, type TmpOptions } from './vfs/vfs.js';
export type { HostMountFilter } from './vfs/host-mount.js';
export { exportTree, ExportError, type ExportOptions, type ExportReport } from './vfs/export.js';
export * from './policy/index.js';
export * from './protocol/index.js';
export {
  Errno,
  errnoName,
  GuestErrno,
  hostPlatform,
  linuxX8664,
  linuxAarch64,
  type Platform,
  type StatInfo,
} from './platform/index.js';
export { readTrace, formatTrace, formatCall, type CallRecord, type TraceEntry } from './trace/index.js';
export { Clock, type ClockSpec, type Identity } from './kernel/session.js';
export { GuestControl, type GuestHandle } from './controller/guest-control.js';
export * from './session/index.js';
export {
  Pool,
  PoolError,
  type PoolErrorKind,
  type PoolOptions,
  type JobOptions,
  type Job,
  type JobResult,
  type PoolStats,
} from './pool/index.js';
export {
  JobClient,
  QueueWorker,
  type JobClientOptions,
  type SubmitOptions,
  type QueueWorkerOptions,
  type QueueResult,
} from './queue/index.js';

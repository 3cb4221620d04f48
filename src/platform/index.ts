import { linuxAarch64 } from './linux-aarch64.js';
import { linuxX8664 } from './linux-x86_64.js';
import type { Platform } from './types.js';

export * from './types.js';
export { Errno, errnoName, GuestErrno, errnoFromNode } from './errno.js';
export { linuxX8664, linuxAarch64 };

/** The layout table for the machine the controller runs on (guests run on the same machine). */
export function hostPlatform(arch: string = process.arch): Platform {
  if (arch === 'x64') return linuxX8664;
  if (arch === 'arm64') return linuxAarch64;
  throw new Error(`no struct layout table for architecture ${arch}`);
}
export * from './structs.js';
export * from './flags.js';
export { putDirent64 } from './common.js';

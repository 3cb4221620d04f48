import { TraceWriter } from '../../trace/trace.js';
import { OptionError } from '../options.js';

const WHY: Record<string, string> = {
  ENOENT: 'no such directory',
  EISDIR: 'a directory',
  EACCES: 'permission denied',
  ENOTDIR: 'a path through a file',
  EROFS: 'read-only filesystem',
};

/** The run's trace file, created before the guest starts; one that cannot be is the option's error. */
export function openTraceFile(file: string): TraceWriter {
  try {
    return new TraceWriter(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new OptionError('traceFile', `cannot write ${file}: ${WHY[e.code ?? ''] ?? e.message}`);
  }
}

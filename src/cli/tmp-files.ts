import fs from 'node:fs';
import path from 'node:path';
import { tmpFileParts } from '../vfs/tmp-files.js';

/**
 * `--tmp-file [NAME=]HOSTPATH`: host files copied into the writable /tmp before the run, at NAME
 * (relative to /tmp; by default the file's own name). The host file is only read, once; a file
 * larger than `maxBytes` (the /tmp quota) is refused before it is read.
 */
export function readTmpFiles(specs: readonly string[], maxBytes: number): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const hostPath = eq >= 0 ? spec.slice(eq + 1) : spec;
    const name = eq >= 0 ? spec.slice(0, eq) : path.basename(hostPath);
    try {
      tmpFileParts(name);
    } catch (err) {
      throw new Error(`--tmp-file ${spec}: the name ${(err as Error).message}`, { cause: err });
    }
    if (name in files) throw new Error(`--tmp-file ${spec}: ${name} is given twice`);
    let st: fs.Stats;
    try {
      st = fs.statSync(hostPath);
    } catch (err) {
      throw new Error(
        `--tmp-file ${spec}: cannot read ${hostPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        { cause: err },
      );
    }
    if (!st.isFile()) throw new Error(`--tmp-file ${spec}: ${hostPath} is not a regular file`);
    if (st.size > maxBytes)
      throw new Error(
        `--tmp-file ${spec}: ${hostPath} has ${st.size} bytes, more than the /tmp quota (${maxBytes}; --tmp-quota)`,
      );
    files[name] = fs.readFileSync(hostPath);
  }
  return files;
}

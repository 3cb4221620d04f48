import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, from dist/src/supervisor or src/supervisor. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('pypy-box: cannot find the package root');
}

/**
 * Path of the compiled supervisor; a clear error when it was never built. The package's install
 * script builds it into build/native at the package root, in a checkout as in an installed package
 * (node_modules/pypy-box/build/native), where this module runs from dist/src/supervisor.
 */
export function supervisorPath(): string {
  const override = process.env.PYPY_BOX_SUPERVISOR;
  const p = override ?? path.join(packageRoot(), 'build/native/pypy-box-supervisor');
  if (!fs.existsSync(p)) {
    throw new Error(
      `the native supervisor is not built (${p} is missing). Stock-interpreter guests need it: install a C compiler (apt-get install gcc) and run "npx pypy-box-build-native" (in a checkout of pypy-box: "npm run build:native").`,
    );
  }
  return p;
}

/** The preloaded wall library for guests that speak the protocol themselves, if built. */
export function wallLibraryPath(): string | undefined {
  const p = path.join(path.dirname(supervisorPath()), 'libpypybox-wall.so');
  return fs.existsSync(p) ? p : undefined;
}

/** Whether the supervisor is built (walls are optional for sandboxed PyPy binaries). */
export function supervisorAvailable(): boolean {
  try {
    supervisorPath();
    return true;
  } catch {
    return false;
  }
}

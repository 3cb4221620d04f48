import { expect, it } from 'vitest';
import { closeSpareSupervisor, Session } from '../src/index.js';
import { childPids, openFds } from './helpers.js';
import { SANDBOXED, STOCK } from './session-helpers.js';

// Sessions opened and ended every way leave no descriptor and no child process behind.

const kinds = [
  ...(STOCK[0]!.path ? [{ python: 'pypy3' }] : []),
  ...SANDBOXED.filter((p) => p.present).map((p) => ({ executable: p.exe, libPath: p.dir })),
];

it.skipIf(kinds.length === 0)(
  'no descriptor or process is left after sessions closed, timed out, broken or killed by a limit',
  async () => {
    await closeSpareSupervisor();
    const before = openFds();
    for (const kind of kinds) {
      const closed = await Session.start(kind);
      await closed.run('x = 1');
      await closed.close();
      const broken = await Session.start(kind);
      await broken.run('import os\nos.write(1, b"garbage")');
      const timedOut = await Session.start({ ...kind, timeout: 3000 });
      await timedOut.run('while True: pass');
      const exited = await Session.start(kind);
      await exited.run('import os\nos._exit(1)');
    }
    await closeSpareSupervisor();
    expect(openFds()).toEqual(before);
    expect(childPids()).toEqual([]);
  },
);

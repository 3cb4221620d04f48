// A host program with its own SIGINT/SIGTERM handling that runs a long guest. On either signal its
// shutdown aborts the run (with a reason), reports how the run ended, and exits with its own code:
// pypy-box neither kills the host nor changes its exit code.
//
//   node examples/graceful-host.mjs [ready-file]   then send SIGINT or SIGTERM
import fs from 'node:fs';
import { Controller, SandboxError } from 'pypy-box';

const abort = new AbortController();
let stopping;

function gracefulShutdown(sig) {
  stopping = sig;
  process.stdout.write(`host: got ${sig}, shutting down\n`);
  abort.abort(new Error(`host shutdown (${sig})`));
}
process.once('SIGINT', gracefulShutdown);
process.once('SIGTERM', gracefulShutdown);

const run = new Controller({
  python: process.env.GUEST_PYTHON || undefined,
  args: ['-c', 'import time\nprint("guest: started", flush=True)\nwhile True: time.sleep(0.05)'],
  signal: abort.signal,
  spareSupervisor: false,
  stdout: (b) => {
    process.stdout.write(b);
    if (process.argv[2] && b.toString().includes('started')) fs.writeFileSync(process.argv[2], `${process.pid}\n`);
  },
}).run();

try {
  const r = await run;
  process.stdout.write(`host: guest ended by itself (${r.outcome})\n`);
  process.exitCode = 1;
} catch (err) {
  if (!(err instanceof SandboxError) || err.kind !== 'aborted') throw err;
  process.stdout.write(`host: run ended: ${err.message}\n`);
  process.stdout.write('host: shutdown complete\n');
  process.exitCode = stopping === 'SIGINT' ? 3 : 4;
}

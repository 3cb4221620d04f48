/**
 * What a `pypy-box` process is: the command line (almost always), or, started by the command's
 * native client, a command server or one of its warm workers (src/server). The two words below are
 * the package's own, never documented as commands.
 */
import { runCli } from './run.js';

export function start(argv: string[]): void {
  if (argv[0] === '--server' && argv[1] !== undefined) {
    const socket = argv[1];
    const dirFd = argv[2] === '--dir-fd' ? Number(argv[3]) : undefined;
    void import('../server/server.js').then(({ serve }) => serve(socket, dirFd));
  } else if (argv[0] === '--server-worker') {
    void import('../server/worker.js').then(({ serveInvocations }) => serveInvocations());
  } else {
    runCli(argv);
  }
}

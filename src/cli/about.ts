/**
 * What the command line says of itself (`--version`, `--help`), apart from everything else: the
 * program answers these before it loads the rest (controller/pypy-box.ts).
 */
import fs from 'node:fs';
import { ExitCode } from './exit-codes.js';

/** The arguments (first word) answered here. */
export const ABOUT_WORDS: ReadonlySet<string | undefined> = new Set([
  undefined,
  '--version',
  '-V',
  'version',
  '--help',
  '-h',
  'help',
]);

/** The package's version, from package.json. */
function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'pypy-box' && pkg.version) return pkg.version;
    } catch {
      // not there: the other layout (src/ under tsx, dist/src/ when built)
    }
  }
  return 'unknown';
}

export const EPILOG = [
  'Exit codes:',
  "  0-255  the guest's own exit code, when it exits by itself",
  `  ${ExitCode.usage}      usage error (bad option, bad policy or trace file)`,
  `  ${ExitCode.unsupported}      the binary declares calls the controller lacks, or is no sandboxed PyPy (check, --debug)`,
  `  ${ExitCode.timeout}    timeout`,
  `  ${ExitCode.limit}    another limit (output, stdin, heap, CPU, ...)`,
  `  ${ExitCode.sandboxError}    sandbox error (protocol violation, refused call)`,
  `  ${ExitCode.cannotStart}    the guest cannot be started`,
  '  128+N  the guest died of signal N; 130/143: pypy-box got SIGINT/SIGTERM and ended the guest;',
  '         141: its output was closed (| head), the guest was ended',
].join('\n');

const TOP_HELP = `Usage: pypy-box <command> [options]

Commands:
  pypy-box interact [options] <executable> [args...]   run a sandboxed PyPy under the controller
  pypy-box interact [options] [python args...]         run a stock pypy3/python3 under the supervisor
  pypy-box check <executable>                          compare a binary's declared calls with the controller's
  pypy-box trace <file>                                list a trace written by interact --log
  pypy-box session [options] [<executable>]            serve one long-lived session over stdin/stdout as JSON lines
  pypy-box worker --redis URL --queue NAME [options]   run jobs from a BullMQ queue on Redis in a pool of guests
  pypy-box server status|stop                          the command servers that run interact warm (docs/server.md)
  pypy-box --version                                   print the version

Run "pypy-box <command> --help" for the options of a command.

${EPILOG}
`;

/** Prints the version or the top help for the first word; the exit code (no command is a usage error). */
export function about(cmd: string | undefined, stdout: NodeJS.WritableStream): number {
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    stdout.write(`pypy-box ${version()}\n`);
    return 0;
  }
  stdout.write(TOP_HELP);
  return cmd === undefined ? ExitCode.usage : 0;
}

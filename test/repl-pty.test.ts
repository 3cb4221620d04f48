import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT } from './helpers.js';

// `pypy-box interact` typed at by a user: the real CLI on a real pseudo-terminal (test/pty-driver.py
// plays the keystrokes), for the stock interpreters and the real sandboxed PyPy builds.

const DRIVER = path.join(ROOT, 'test/pty-driver.py');
const CTRL_C = '\u0003',
  CTRL_D = '\u0004',
  CTRL_BACKSLASH = '\u001c';

type Step =
  { send: string; delay?: number } | { expect: string; timeout?: number } | { sleep: number } | { signal: number };
interface Transcript {
  output: string;
  failed: { index: number; step: Step } | null;
  exitCode: number | null;
  signal: number | null;
  timedOut: boolean;
  termiosRestored: boolean;
  termiosBefore: string;
  termiosAfter: string;
}

/** The CLI on a fresh pty with these arguments, driven by `steps`; the transcript when it has ended. */
async function typeAt(args: string[], steps: Step[], exitTimeout = 10): Promise<Transcript> {
  const script = {
    argv: [process.execPath, CLI, 'interact', ...args],
    // The system's interpreters first (a per-user python3 may be unreadable to the guest's uid).
    env: { TERM: 'xterm', PATH: '/usr/local/bin:/usr/bin:/bin', NO_COLOR: '1' },
    steps,
    exitTimeout,
  };
  const r = await execa('python3', [DRIVER], { input: JSON.stringify(script), reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`pty driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Transcript;
}

/** Every step was seen, the CLI exited with `code` and left the terminal as it found it. */
function expectClean(t: Transcript, code = 0): void {
  const shown = `${JSON.stringify(t.failed)}\n--- transcript ---\n${t.output}`;
  expect(t.failed, shown).toBeNull();
  expect({ exitCode: t.exitCode, signal: t.signal, timedOut: t.timedOut }, shown).toEqual({
    exitCode: code,
    signal: null,
    timedOut: false,
  });
  expect(t.termiosAfter, shown).toBe(t.termiosBefore);
  expect(t.termiosRestored).toBe(true);
}

const line = (text: string): Step => ({ send: `${text}\r` }); // Enter sends CR, as a terminal does

const STOCK = [
  // pyrepl switches the terminal to application cursor keys: the up arrow then sends ESC O A.
  { name: 'pypy3', args: [] as string[], prompt: '>>>> ', cont: '\\.\\.\\.\\. ', up: '\u001bOA' },
  { name: 'python3', args: ['--python', 'python3'], prompt: '>>> ', cont: '\\.\\.\\. ', up: '\u001b[A' },
];
const haveStock = (name: string) => ['/usr/bin', '/usr/local/bin'].some((d) => fs.existsSync(path.join(d, name)));

describe.concurrent('interact at a terminal: stock interpreters', () => {
  for (const s of STOCK) {
    it.skipIf(!haveStock(s.name))(
      `${s.name}: def, for loop, history, Ctrl-C in a busy loop, then Ctrl-D ends with 0 and the terminal restored`,
      async () => {
        const t = await typeAt(s.args, [
          { expect: s.prompt, timeout: 30 },
          line('def twice(x):'),
          { expect: s.cont },
          line('    return 2 * x'),
          line(''),
          { expect: s.prompt },
          line('print(twice(21))'),
          { expect: '42\r\n' },
          { expect: s.prompt },
          line('for i in range(3): print("item", i * 7)'),
          line(''),
          { expect: 'item 0\r\n.*item 7\r\n.*item 14\r\n' },
          { expect: s.prompt },
          line('print(twice(100))'),
          { expect: '200\r\n' },
          { expect: s.prompt },
          { send: s.up, delay: 0.3 }, // recalls print(twice(100))
          line(''),
          { expect: '200\r\n' },
          { expect: s.prompt },
          // Ctrl-C while guest code runs: KeyboardInterrupt in the guest, and the session goes on.
          line('while True: pass'),
          line(''),
          { sleep: 1 },
          { send: CTRL_C },
          { expect: 'KeyboardInterrupt\r\n' },
          { expect: s.prompt },
          line('print("still", 6 * 7)'),
          { expect: 'still 42\r\n' },
          { expect: s.prompt },
          { send: CTRL_D },
        ]);
        expectClean(t);
        expect(t.output.match(/Traceback/g)?.length).toBe(1); // the KeyboardInterrupt's, no other
      },
    );
  }

  it.skipIf(!haveStock('pypy3'))(
    'pypy3: Ctrl-C at the prompt (the line editor has ISIG off) reaches pyrepl as a byte and clears the line',
    async () => {
      const t = await typeAt(
        [],
        [
          { expect: '>>>> ', timeout: 30 },
          { send: 'print("never")', delay: 0.3 },
          { send: CTRL_C },
          { expect: 'KeyboardInterrupt' },
          { expect: '>>>> ' },
          line('print("after", 1 + 1)'),
          { expect: 'after 2\r\n' },
          { expect: '>>>> ' },
          { send: CTRL_D },
        ],
      );
      expectClean(t);
      expect(t.output).not.toContain('never\r\n');
    },
  );

  for (const s of STOCK) {
    it.skipIf(!haveStock(s.name))(
      `${s.name}: Ctrl-C while a script waits in input(): its handler runs, the read goes on; then KeyboardInterrupt`,
      async () => {
        // The read waits in the controller (the guest's terminal): the interrupt character ends it
        // with EINTR, the guest's handler runs and Python reads again; the default handler raises.
        const script = [
          'import signal',
          'def told(signum, frame): print("handled", signum)',
          'signal.signal(signal.SIGINT, told)',
          'print("got", input("first? "))',
          'signal.signal(signal.SIGINT, signal.default_int_handler)',
          'try:',
          '    input("second? ")',
          'except KeyboardInterrupt:',
          '    print("interrupted")',
          'print("done")',
        ].join('\n');
        const t = await typeAt(
          [...s.args, '-c', script],
          [
            { expect: 'first\\? ', timeout: 30 },
            { sleep: 0.3 },
            { send: CTRL_C },
            { expect: 'handled 2\r\n' },
            line('typed'),
            { expect: 'got typed\r\n' },
            { expect: 'second\\? ' },
            { sleep: 0.3 },
            { send: CTRL_C },
            { expect: 'interrupted\r\ndone\r\n' },
          ],
        );
        expectClean(t);
      },
    );
  }

  it.skipIf(!haveStock('pypy3'))(
    'a guest that ignores SIGINT: three Ctrl-C in a row end the session (130), the terminal restored',
    async () => {
      const t = await typeAt(
        [],
        [
          { expect: '>>>> ', timeout: 30 },
          line('import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)'),
          { expect: '>>>> ' },
          line('while True: pass'),
          line(''),
          { sleep: 0.5 },
          { send: CTRL_C, delay: 0.3 },
          { send: CTRL_C, delay: 0.3 },
          { send: CTRL_C },
        ],
      );
      expectClean(t, 130);
      expect(t.output).toContain('did not answer 3 interrupts');
    },
  );

  it.skipIf(!haveStock('pypy3'))(
    'SIGTERM or SIGHUP to pypy-box while pyrepl has the terminal raw: exit 143 or 129, the terminal restored',
    async () => {
      for (const [sig, code] of [
        ['SIGTERM', 143],
        ['SIGHUP', 129],
      ] as const) {
        const t = await typeAt(
          [],
          [{ expect: '>>>> ', timeout: 30 }, { sleep: 0.3 }, { signal: os.constants.signals[sig] }],
        );
        expectClean(t, code);
      }
    },
  );

  it.skipIf(!haveStock('pypy3'))(
    'a guest killed at its prompt (SIGKILL): exit 137, the terminal restored',
    async () => {
      const t = await typeAt(
        [],
        [{ expect: '>>>> ', timeout: 30 }, line('import os; os.kill(os.getpid(), 9)'), { expect: 'SIGKILL' }],
      );
      expectClean(t, 137);
    },
  );

  it.skipIf(!haveStock('python3'))(
    'python3: Ctrl-\\ sends SIGQUIT, which ends the guest as it would at a terminal (131)',
    async () => {
      const t = await typeAt(
        ['--python', 'python3'],
        [
          { expect: '>>> ', timeout: 30 },
          line('while True: pass'),
          line(''),
          { sleep: 0.5 },
          { send: CTRL_BACKSLASH },
          { expect: 'SIGQUIT' },
        ],
      );
      expectClean(t, 131);
    },
  );
});

const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
const PYPYS = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c', print: (e: string) => `print ${e}` },
  {
    name: 'PyPy 3.6',
    dir: path.join(BUILDS, 'pypy3.6-sandbox'),
    binary: 'pypy3-c',
    print: (e: string) => `print(${e})`,
  },
];
const havePyPys = PYPYS.every((p) => fs.existsSync(path.join(p.dir, p.binary)));
if (!havePyPys)
  console.warn(
    `repl-pty tests: ${BUILDS} is missing (the archives of ../shared/pypy-sandbox): the sandboxed PyPy REPL tests are skipped`,
  );

describe.concurrent.skipIf(!havePyPys)('interact at a terminal: real sandboxed PyPy builds', () => {
  for (const p of PYPYS) {
    const args = ['--lib-path', p.dir, path.join(p.dir, p.binary)];

    it(`${p.name}: a compound statement, then Ctrl-D ends with 0 and the terminal restored`, async () => {
      const t = await typeAt(args, [
        { expect: '>>>> ', timeout: 40 },
        line('def twice(x):'),
        { expect: '\\.\\.\\.\\. ' },
        line('  return 2 * x'),
        line(''),
        { expect: '>>>> ' },
        line(p.print('twice(21)')),
        { expect: '42\r\n' },
        { expect: '>>>> ' },
        { send: CTRL_D },
      ]);
      expectClean(t);
      // Typed once, echoed once.
      expect(t.output.split('def twice(x):').length - 1).toBe(1);
    });

    it(`${p.name}: Ctrl-C ends the session with 130 (a sandboxed PyPy has no signal module to catch SIGINT)`, async () => {
      const t = await typeAt(args, [
        { expect: '>>>> ', timeout: 40 },
        line('while True: pass'),
        line(''),
        { sleep: 1 },
        { send: CTRL_C },
        { expect: 'SIGINT' },
      ]);
      expectClean(t, 130);
    });
  }
});

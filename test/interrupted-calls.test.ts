import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller, GuestControl } from '../src/index.js';
import { ROOT } from './helpers.js';
import { STOCK } from './session-helpers.js';

// A forwarded call is performed by the controller once the supervisor has taken it: a signal the
// guest handles (its SIGINT handler, a session's KeyboardInterrupt) must not make it issue the
// call again, or the controller would do it twice (a line written twice, bytes read and lost).

afterAll(() => closeSpareSupervisor());

/**
 * Appends numbered lines to a file of the virtual /tmp (each write goes to the controller) while
 * counting the SIGINTs it handles; stops after `signals` of them and prints how many writes it made.
 */
const WRITER = `
import os, signal
seen = [0]
def on_interrupt(signum, frame):
    seen[0] += 1
signal.signal(signal.SIGINT, on_interrupt)
fd = os.open('/tmp/log', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.write(1, b'writing\\n')
made = 0
while seen[0] < SIGNALS and made < 400000:
    os.write(fd, ('%d\\n' % made).encode())
    made += 1
os.close(fd)
os.write(1, ('made %d seen %d\\n' % (made, seen[0])).encode())
`;

/** Runs the writer while SIGINTs arrive every millisecond; what the guest made and what the controller kept. */
async function writeUnderSignals(python: string, signals: number) {
  const control = new GuestControl();
  let timer: NodeJS.Timeout | undefined;
  const run = new Controller({
    python,
    args: ['-c', WRITER.replace('SIGNALS', String(signals))],
    control,
    stdout: (b) => {
      if (!timer && b.toString().includes('writing')) timer = setInterval(() => control.interrupt('SIGINT'), 1);
      out += b.toString();
    },
    limits: { timeoutMs: 30_000 },
  }).run();
  let out = '';
  try {
    const r = await run;
    const made = /made (\d+) seen (\d+)/.exec(out);
    expect(made, `the guest's output: ${out}\n${r.guestStderr}`).not.toBeNull();
    const lines = r.vfs.readFile('/tmp/log').toString().split('\n').filter(Boolean);
    return { made: Number(made![1]), seen: Number(made![2]), lines, walls: r.walls };
  } finally {
    clearInterval(timer);
  }
}

for (const py of STOCK) {
  describe.skipIf(!py.path)(`forwarded calls of ${py.name} interrupted by signals it handles`, () => {
    it('are performed exactly once: every write the guest made is in the file once, in order', async () => {
      const { made, seen, lines, walls } = await writeUnderSignals(py.name, 300);
      expect(seen).toBeGreaterThanOrEqual(300);
      // What the controller wrote is what the guest made: no line twice, none missing.
      expect(lines.length).toBe(made);
      const wrong = lines.findIndex((l, i) => l !== String(i));
      expect(wrong, `line ${wrong} is ${lines[wrong]}`).toBe(-1);
      expect(walls).toContain('killable-wait');
    });
  });
}

describe.skipIf(!STOCK[0]!.path)('on a kernel without killable waits (before Linux 5.19)', () => {
  it('runs all the same, without killable-wait in its walls', async () => {
    // test/guest/old-kernel.c makes seccomp refuse the flag (EINVAL), as an older kernel does.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-old-kernel-'));
    try {
      const wrapper = path.join(dir, 'old-kernel');
      execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', wrapper, path.join(ROOT, 'test/guest/old-kernel.c')]);
      const script = path.join(dir, 'run.mjs');
      fs.writeFileSync(
        script,
        [
          `import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};`,
          `const r = await new Controller({ python: ${JSON.stringify(STOCK[0]!.name)}, args: ['-c', 'print(6 * 7)'] }).run();`,
          `console.log(JSON.stringify({ out: r.stdout.toString(), code: r.exitCode, walls: r.walls }));`,
        ].join('\n'),
      );
      const r = await execa(wrapper, [process.execPath, script], { reject: false, timeout: 30_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      const run = JSON.parse(r.stdout) as { out: string; code: number; walls: string[] };
      expect(run).toMatchObject({ out: '42\n', code: 0 });
      expect(run.walls).toContain('seccomp-user-notify');
      expect(run.walls).not.toContain('killable-wait');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

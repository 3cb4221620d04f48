import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, FIXTURES, GUEST, GUEST_EXTRA } from './helpers.js';

const PROJECT = path.join(FIXTURES, 'project');

function cli(args: string[], input?: string) {
  return execa(process.execPath, [CLI, ...args], { reject: false, input, env: { NO_COLOR: '1' }, timeout: 30_000 });
}

describe('pypy-box CLI', () => {
  it('interact runs the guest and passes its arguments untouched, options included', async () => {
    const r = await cli(['interact', GUEST, 'call write(ipi)i 1 s:hi\\n 3', 'call _exit(i)v 5']);
    expect(r.stdout).toBe('hi');
    expect(r.exitCode).toBe(5);
    // Arguments that look like options belong to the guest: the C guest rejects "--timeout" as a bad script line.
    const g = await cli(['interact', GUEST, '--timeout', '1']);
    expect(g.exitCode).toBe(98);
    expect(g.stderr).toContain('bad script line: --timeout');
  });

  it('--verbose prints one line per call with the policy reason', async () => {
    const r = await cli([
      'interact',
      '--verbose',
      '--allow-read',
      PROJECT,
      GUEST,
      `call open(pii)i s:${PROJECT}/README.txt 0 0`,
      'call open(pii)i s:/etc/passwd 0 0',
    ]);
    expect(r.stderr).toMatch(
      new RegExp(`\\[sandbox\\] open\\("${PROJECT}/README.txt", 0, 0\\) = 3 \\(host .* under read grant`),
    );
    expect(r.stderr).toMatch(
      /\[sandbox\] open\("\/etc\/passwd", 0, 0\)( \[answered by the supervisor\])? = -1 EACCES \(denied: \/etc is outside the sandbox's filesystem/,
    );
    expect(r.stderr).toMatch(/2 calls, 1 denied/);
  });

  it('--log writes a trace that "trace" lists and summarises', async () => {
    const log = path.join(os.tmpdir(), `cli-trace-${process.pid}.msgpack`);
    await cli(['interact', '--log', log, GUEST, 'call getpid()i', 'call getpid()i', 'call access(pi)i s:/nope 0']);
    const t = await cli(['trace', log]);
    fs.unlinkSync(log);
    expect(t.exitCode).toBe(0);
    expect(t.stdout).toMatch(/getpid\(\) = 4200/);
    expect(t.stdout).toMatch(/access\("\/nope", 0\) = -1 EACCES/);
    expect(t.stdout).toMatch(/getpid\(\)i\s+2\s+0\s+0/);
    expect(t.stdout).toMatch(/# ended: exited, exit code 0/);
  });

  it('--timeout ends the guest with exit code 124', async () => {
    const r = await cli(['interact', '--timeout', '0.3', GUEST, 'quiet', 'loop 1000000000', 'call getpid()i', 'end']);
    expect(r.exitCode).toBe(124);
    expect(r.stderr).toMatch(/timeout: guest stopped after 300 ms/);
  });

  it('--stall-timeout ends a guest silent in the middle of a call as a sandbox error (126)', async () => {
    const partialCall = Buffer.concat([Buffer.of(9), Buffer.from('getp')]).toString('hex');
    const r = await cli(['interact', '--stall-timeout', '0.2', GUEST, `raw ${partialCall} -`, 'sleep 20000']);
    expect(r.exitCode).toBe(126);
    expect(r.stderr).toMatch(/guest stalled: no byte for 200 ms in the middle of a call \(bytes: 09 67 65 74 70/);
    const bad = await cli(['interact', '--stall-timeout', '-1', GUEST, 'call getpid()i']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--stall-timeout expects a number of seconds/);
    expect((await cli(['interact', '--help'])).stdout).toMatch(
      /--stall-timeout +seconds the guest may go without sending a byte/,
    );
  });

  it('--output-limit ends the guest with exit code 125', async () => {
    const r = await cli([
      'interact',
      '--output-limit',
      '1k',
      GUEST,
      'quiet',
      'fill x A 600',
      'loop 10',
      'call write(ipi)i 1 b:x 600',
      'end',
    ]);
    expect(r.exitCode).toBe(125);
    expect(r.stdout.length).toBe(1024);
  });

  it('--heapsize reaches the guest as its first two arguments', async () => {
    const r = await cli(['interact', '--heapsize', '64m', GUEST, 'call getpid()i']);
    // The C guest takes them as script lines and rejects them, which proves where they went.
    expect(r.stderr).toContain('bad script line: --heapsize');
  });

  it('a guest that breaks the protocol gives exit code 126 and the bytes', async () => {
    const r = await cli(['interact', GUEST, 'raw 00ff -']);
    expect(r.exitCode).toBe(126);
    expect(r.stderr).toMatch(/protocol.*00 ff/);
  });

  it('a crashing guest is reported with its signal (128+N)', async () => {
    const r = await cli(['interact', GUEST, 'crash segv']);
    expect(r.exitCode).toBe(139);
    expect(r.stderr).toMatch(/SIGSEGV \(Segmentation fault\)/);
  });

  it('--tmp shows a host directory as /tmp and keeps writes in memory', async () => {
    const r = await cli([
      'interact',
      '--tmp',
      PROJECT,
      GUEST,
      'buf b 64',
      'call open(pii)i s:README.txt 0 0',
      'call read(ipi)i 3 b:b 64',
      'call write(ipi)i 1 b:b r',
      'call open(pii)i s:/tmp/new.txt 577 420',
      'call write(ipi)i 4 s:x 1',
    ]);
    expect(r.stdout).toBe('pypy-box fixture project');
    expect(fs.existsSync(path.join(PROJECT, 'new.txt'))).toBe(false);
  });

  it('--lib-path shows a PyPy tree at /lib, beside a virtual /lib/pypy, as PyPy looks for it', async () => {
    const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-tree-'));
    fs.mkdirSync(path.join(lib, 'lib-python/3/__pycache__'), { recursive: true });
    fs.mkdirSync(path.join(lib, 'lib_pypy'));
    fs.writeFileSync(path.join(lib, 'lib-python/3/os.py'), '# os\n');
    fs.writeFileSync(path.join(lib, 'lib-python/3/__pycache__/os.pypy36.pyc'), 'stale');
    fs.writeFileSync(path.join(lib, 'lib_pypy/_structseq.py'), '# structseq\n');
    const r = await cli([
      'interact',
      '--lib-path',
      lib,
      GUEST,
      'call access(pi)i s:/lib/pypy 1',
      'buf st 144',
      'call stat64(pp)i s:/lib/lib-python/3 b:st',
      'call stat64(pp)i s:/lib/lib_pypy b:st',
      'call open(pii)i s:/lib/lib-python/3/os.py 524288 438',
      'call open(pii)i s:/lib/lib-python/3/__pycache__/os.pypy36.pyc 0 0',
      'call mkdir(pi)i s:/lib/lib-python/3/__pycache__x 511',
      'call _pypy_init_home()p',
      'save h',
      'str h',
    ]);
    expect(r.stderr).toContain(
      ['= 0 errno=0', '= 0 errno=0', '= 0 errno=0', '= 3 errno=0', '= -1 errno=2', '= -1 errno=30'].join('\n'),
    );
    expect(r.stderr).toContain('STR /lib/pypy');
    fs.rmSync(lib, { recursive: true });
  });

  it('--policy reads a JSON policy and names a bad field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-'));
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(
      good,
      JSON.stringify({ allowRead: [{ path: PROJECT, at: '/data', exclude: ['**/*.csv'] }], env: { MODE: 'test' } }),
    );
    const ok = await cli([
      'interact',
      '--policy',
      good,
      GUEST,
      'call access(pi)i s:/data/README.txt 4',
      'call access(pi)i s:/data/data/numbers.csv 4',
      'call getenv(p)p s:MODE',
      'save m',
      'str m',
    ]);
    expect(ok.stderr).toContain('= 0 errno=0\n= -1 errno=2');
    expect(ok.stderr).toContain('STR test');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ allowRead: [{ path: PROJECT, include: 'x' }] }));
    const r = await cli(['interact', '--policy', bad, GUEST]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('policy.allowRead[0].include: expected an array of strings');
    fs.writeFileSync(bad, JSON.stringify({ rules: [{ effect: 'deny', path: '/x', ops: ['fly'] }] }));
    expect((await cli(['interact', '--policy', bad, GUEST])).stderr).toContain(
      'policy.rules[0].ops[0]: unknown operation "fly"',
    );
    fs.writeFileSync(bad, JSON.stringify({ allowread: [] }));
    expect((await cli(['interact', '--policy', bad, GUEST])).stderr).toContain('policy.allowread: unknown field');
    fs.rmSync(dir, { recursive: true });
  });

  it('check compares the capability dump with the handler table', async () => {
    const ok = await cli(['check', GUEST]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/protocol version 20001, platform linux2/);
    expect(ok.stdout).toMatch(/result: ok/);
    const bad = await cli(['check', GUEST_EXTRA]);
    expect(bad.exitCode).toBe(3);
    expect(bad.stdout).toContain('not implemented: frobnicate(i)i');
    const json = JSON.parse((await cli(['check', '--json', GUEST_EXTRA])).stdout);
    expect(json.unsupported).toEqual(['frobnicate(i)i']);
    const py3 = await cli(['check', path.join(path.dirname(GUEST), 'guest-pypy3')]);
    expect(py3.exitCode).toBe(0);
    expect(py3.stdout).toMatch(/^(\d+) calls declared, \1 implemented, 0 not implemented$/m);
  });

  it('--debug refuses a binary that declares unsupported calls', async () => {
    const r = await cli(['interact', '--debug', GUEST_EXTRA, 'call getpid()i']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('frobnicate(i)i');
    const ok = await cli(['interact', '--debug', GUEST, 'call write(ipi)i 1 s:ok 2']);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe('ok');
  });

  it('refuses local answers asked for a sandboxed binary without walls (nothing could answer them)', async () => {
    const r = await cli(['interact', '--no-walls', '--local-answers', GUEST, 'call getpid()i']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--local-answers: a sandboxed PyPy without walls has no supervisor to answer calls');
    // Not asked for: the default, which a run without walls cannot have, is no error.
    const quiet = await cli(['interact', '--no-walls', GUEST, 'call write(ipi)i 1 s:ok 2']);
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stdout).toBe('ok');
  });

  it.skipIf(!fs.existsSync('/usr/bin/python3'))(
    "runs under the shell's lower resource limits, keeping them for the guest; says which one is too low to start",
    async () => {
      const show = `import resource as r; print(r.getrlimit(r.RLIMIT_NOFILE)[1], r.getrlimit(r.RLIMIT_CPU)[1])`;
      const under = (limits: string) =>
        execa('sh', ['-c', `${limits}; exec "${process.execPath}" "${CLI}" interact --python python3 -c '${show}'`], {
          reject: false,
          env: { NO_COLOR: '1', PATH: '/usr/local/bin:/usr/bin:/bin' },
        });
      const lower = await under('ulimit -n 600; ulimit -t 30');
      expect(lower.exitCode, lower.stderr).toBe(0);
      expect(lower.stdout).toBe('600 30');
      const softOnly = await under('ulimit -Sn 100');
      expect(softOnly.exitCode, softOnly.stderr).toBe(0);
      const tooLow = await under('ulimit -n 100');
      expect(tooLow.exitCode).toBe(127);
      expect(tooLow.stderr).toContain('RLIMIT_NOFILE, ulimit -n) is below 512');
    },
  );

  it('usage errors give exit code 2 and --help documents every option and the exit codes', async () => {
    expect((await cli(['interact', '--python'])).exitCode).toBe(2);
    expect((await cli(['interact', '--bogus-flag', GUEST])).exitCode).toBe(2);
    expect((await cli(['frobnicate'])).exitCode).toBe(2);
    const h = await cli(['interact', '--help']);
    expect(h.exitCode).toBe(0);
    for (const opt of [
      '--tmp',
      '--lib-path',
      '--heapsize',
      '--timeout',
      '--log',
      '--verbose',
      '--debug',
      '--nocolor',
      '--raw-stdout',
      '--allow-read',
      '--policy',
    ])
      expect(h.stdout).toContain(opt);
    expect(h.stdout).toMatch(/124 +timeout/);
  });

  it('escapes terminal control sequences unless --raw-stdout (when stdout is a terminal)', async () => {
    const { escapeControls } = await import('../src/cli/output.js');
    expect(escapeControls(Buffer.from('a\x1b[31mred\x07\n')).toString()).toBe('a\\x1b[31mred\\x07\n');
  });
});

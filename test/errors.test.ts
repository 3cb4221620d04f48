import path from 'node:path';
import { inspect } from 'node:util';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { Controller, OptionError, SandboxError } from '../src/index.js';
import { ROOT, runGuest } from './helpers.js';

describe('errors', () => {
  it('prints a SandboxError in a few lines, every field still reachable', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('deadline passed')), 200);
    const err = (await runGuest(['sleep 10000'], { signal: ac.signal }).catch((e: unknown) => e)) as SandboxError;
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.kind).toBe('aborted');
    expect(err.message).toContain('deadline passed');
    expect((err.cause as Error).message).toBe('deadline passed');
    expect(typeof err.result.vfs.snapshot).toBe('function');
    expect(err.result.outcome).toBe('killed');
    // As Node prints an uncaught error (enumerable properties, no custom inspect) and as console.log does.
    expect(inspect(err, { customInspect: false }).split('\n').length).toBeLessThan(60);
    const shown = inspect(err);
    expect(shown.split('\n').length).toBeLessThan(20);
    expect(shown).toContain("kind: 'aborted'");
    expect(shown).toContain('deadline passed');
  });

  it('an uncaught SandboxError prints concisely', async () => {
    const script = `import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
      await new Controller({ executable: ${JSON.stringify(path.join(ROOT, 'build/test/guest'))}, args: ['sleep 10000'], signal: AbortSignal.timeout(200) }).run();`;
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, timeout: 30_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('SandboxError: run aborted');
    expect(r.stderr).toContain('TimeoutError');
    expect(r.stderr.split('\n').length).toBeLessThan(80);
  });

  it('an abort with a string reason keeps it', async () => {
    const err = (await runGuest(['sleep 10000'], { signal: AbortSignal.abort('user cancelled') }).catch(
      (e: unknown) => e,
    )) as SandboxError;
    expect(err.kind).toBe('aborted');
    expect(err.message).toContain('user cancelled');
    expect(err.cause).toBe('user cancelled');
  });

  it('an onCall hook that throws is named', async () => {
    const err = (await runGuest(['call getpid()i', 'sleep 10000'], {
      onCall: () => {
        throw new Error('audit log full');
      },
    }).catch((e: unknown) => e)) as SandboxError;
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.message).toMatch(/onCall hook threw: audit log full/);
    expect((err.cause as Error).message).toMatch(/audit log full/);
  });

  it('checks stdin, stdout and stderr up front, naming the option and what it accepts', () => {
    const bad = (o: object) => {
      try {
        new Controller({ executable: '/bin/true', ...o });
      } catch (e) {
        return e as OptionError;
      }
      throw new Error('accepted');
    };
    const out = bad({ stdout: 'pipe' });
    expect(out).toBeInstanceOf(OptionError);
    expect(out.message).toMatch(
      /^option stdout: expected 'capture', 'inherit', 'ignore', a Writable stream or a function .*got "pipe"/,
    );
    expect(bad({ stderr: 7 }).message).toMatch(/^option stderr: expected .*got 7/);
    const inp = bad({ stdin: 42 });
    expect(inp).toBeInstanceOf(OptionError);
    expect(inp.message).toMatch(
      /^option stdin: expected a Buffer, a string .*a Readable stream, 'inherit' or 'ignore', got 42/,
    );
  });

  it('refuses unknown option keys, suggesting the closest known one', () => {
    expect(() => new Controller({ pyhton: 'pypy3' } as never)).toThrow(
      /^option pyhton: unknown option \(did you mean python\?\)$/,
    );
    expect(() => new Controller({ executable: '/bin/true', timout: 5 } as never)).toThrow(
      /option timout: unknown option \(did you mean timeout\?\)/,
    );
    expect(() => new Controller({ executable: '/bin/true', zzzzzzzz: 1 } as never)).toThrow(
      /^option zzzzzzzz: unknown option$/,
    );
  });

  it('checks the clock up front', () => {
    expect(() => new Controller({ executable: '/bin/true', clock: { fixed: 'notadate' } })).toThrow(
      /^option clock\.fixed: not a date: notadate$/,
    );
    expect(() => new Controller({ executable: '/bin/true', clock: 'fake' as never })).toThrow(
      /^option clock: expected 'real' or \{ fixed: date \}/,
    );
    expect(() => new Controller({ executable: '/bin/true', clock: { fixed: '2020-01-01T00:00:00Z' } })).not.toThrow();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { alive, childrenOf, ROOT, waitFor } from './helpers.js';

describe("the host's own signal handling", () => {
  for (const [sig, code] of [
    ['SIGINT', 3],
    ['SIGTERM', 4],
  ] as const) {
    it(`a host with its own ${sig} handler shuts down its way, and no guest is left`, async () => {
      const ready = path.join(os.tmpdir(), `pypy-box-host-${process.pid}-${sig}`);
      fs.rmSync(ready, { force: true });
      const host = execa(process.execPath, [path.join(ROOT, 'examples/graceful-host.mjs'), ready], {
        reject: false,
        timeout: 30_000,
      });
      await waitFor(() => fs.existsSync(ready));
      const guests = childrenOf(host.pid!);
      expect(guests.length).toBeGreaterThan(0);
      host.kill(sig);
      const r = await host;
      fs.rmSync(ready, { force: true });
      expect(r.stdout).toContain(`host: got ${sig}, shutting down`);
      expect(r.stdout).toContain(`run aborted by its AbortSignal (host shutdown (${sig}))`);
      expect(r.stdout).toContain('host: shutdown complete');
      expect(r.exitCode).toBe(code);
      expect(r.signal).toBeUndefined();
      await waitFor(() => guests.every((p) => !alive(p)), 5000);
    });
  }

  it('a host that exits in the middle of a run leaves no guest (the exit hook)', async () => {
    const file = path.join(os.tmpdir(), `pypy-box-exit-host-${process.pid}.mjs`);
    fs.writeFileSync(
      file,
      [
        `import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};`,
        `const args = ['call write(ipi)i 1 s:up\\n 3', 'sleep 30000'];`,
        `new Controller({ executable: ${JSON.stringify(path.join(ROOT, 'build/test/guest'))}, args, walls: false, stdout: (b) => process.stdout.write(b) }).run().catch(() => {});`,
        `process.stdin.once('data', () => process.exit(7));`,
      ].join('\n'),
    );
    const host = execa(process.execPath, [file], { reject: false, timeout: 30_000, buffer: { stdout: false } });
    await new Promise<void>((resolve) =>
      host.stdout.on('data', (b: Buffer) => b.toString().includes('up') && resolve()),
    );
    const guests = childrenOf(host.pid!);
    expect(guests.length).toBeGreaterThan(0);
    host.stdin.write('exit\n');
    const r = await host;
    fs.rmSync(file, { force: true });
    expect(r.exitCode).toBe(7);
    await waitFor(() => guests.every((p) => !alive(p)), 5000);
  });
});

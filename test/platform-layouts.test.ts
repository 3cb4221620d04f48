import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS,
  AT,
  CLOCK,
  FCNTL,
  PATHCONF,
  RUSAGE,
  hostPlatform,
  IOCTL,
  NCCS,
  RENAME,
  SEEK,
  TERMIOS_C,
  TERMIOS_I,
  TERMIOS_L,
  TERMIOS_O,
  TERMIOS_V,
  UTSNAME_FIELD_BYTES,
  type Layouts,
} from '../src/platform/index.js';

/**
 * The struct layouts and flag numbers of src/platform/ against what the C compiler and this
 * machine's headers say (test/guest/layouts-probe.c prints them as JSON).
 */

interface ProbeOutput {
  layouts: Record<string, { size: number; offsets: Record<string, number> }>;
  extents: Record<string, number>;
  flags: Record<string, number>;
}

const ROOT = path.resolve(__dirname, '..');
let probe: ProbeOutput;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-layouts-'));
  try {
    const exe = path.join(dir, 'layouts-probe');
    execFileSync(process.env.CC ?? 'cc', [
      '-O0',
      '-Wall',
      '-Werror',
      '-o',
      exe,
      path.join(ROOT, 'test/guest/layouts-probe.c'),
    ]);
    probe = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as ProbeOutput;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const platform = hostPlatform();
const STRUCTS = Object.keys(platform.layouts) as (keyof Layouts)[];

describe(`struct layouts of ${platform.name}`, () => {
  it('cover every struct the probe measures, and nothing else', () => {
    expect(STRUCTS.slice().sort()).toEqual(Object.keys(probe.layouts).sort());
  });

  it.each(STRUCTS)('%s: size and every field offset agree with the C compiler', (name) => {
    const ours = platform.layouts[name];
    expect({ size: ours.size, offsets: { ...ours.offsets } }).toEqual(probe.layouts[name]);
  });

  it('agree on the sizes the encoders assume beyond offsets', () => {
    expect(UTSNAME_FIELD_BYTES).toBe(probe.extents.UTSNAME_FIELD_BYTES);
    expect(NCCS).toBe(probe.extents.NCCS);
    expect(platform.statSize).toBe(probe.layouts.stat!.size);
    expect(platform.direntSize).toBe(probe.layouts.dirent64!.size);
    // st_nlink and st_blksize are as wide as the encoder writes them
    const st = platform.encodeStat({
      dev: 1,
      ino: 2,
      nlink: 0x01020304,
      mode: 0o100644,
      uid: 5,
      gid: 6,
      rdev: 7,
      size: 8,
      blksize: 0x0a0b0c0d,
      blocks: 9,
      atimeNs: 0n,
      mtimeNs: 0n,
      ctimeNs: 0n,
    });
    const o = platform.layouts.stat.offsets;
    const read = (off: number, bytes: number) => (bytes === 8 ? Number(st.readBigUInt64LE(off)) : st.readUInt32LE(off));
    expect(read(o.st_nlink, probe.extents.st_nlink!)).toBe(0x01020304);
    expect(read(o.st_blksize, probe.extents.st_blksize!)).toBe(0x0a0b0c0d);
    expect(st.readUInt32LE(o.st_mode)).toBe(0o100644);
  });
});

describe(`flag numbers of ${platform.name}`, () => {
  const ours = (): Record<string, number> => ({
    ...platform.open,
    ...AT,
    ...SEEK,
    ...ACCESS,
    ...IOCTL,
    ...TERMIOS_I,
    ...TERMIOS_O,
    ...TERMIOS_C,
    ...TERMIOS_L,
    ...TERMIOS_V,
    ...FCNTL,
    ...RENAME,
    ...RUSAGE,
    ...PATHCONF,
    ...CLOCK,
  });

  it('are the ones of the C headers, each of them', () => {
    expect(ours()).toEqual(probe.flags);
  });
});

import { describe, expect, it } from 'vitest';
import { LineDiscipline } from '../src/kernel/line-discipline.js';
import { defaultTermios, I, L, V } from '../src/kernel/termios.js';
import { Errno, GuestErrno } from '../src/platform/index.js';

// The controller's terminal line discipline, byte by byte, against what a Linux terminal does with
// the same settings (the pseudo-terminal tests in repl-pty.test.ts drive it through the real CLI).

function setup(edit: (t: Buffer) => void = () => {}) {
  const echoed: string[] = [];
  const signals: string[] = [];
  const ld = new LineDiscipline({ echo: (b) => echoed.push(b.toString('latin1')), signal: (s) => signals.push(s) });
  const t = defaultTermios();
  edit(t);
  ld.set(t, false);
  return { ld, echo: () => echoed.join(''), signals };
}

const flags = (t: Buffer, word: number, set: number, clear = 0) =>
  t.writeUInt32LE(((t.readUInt32LE(word) | set) & ~clear) >>> 0, word);
const cc = (t: Buffer, v: number, value: number) => (t[17 + v] = value);
const raw = (t: Buffer) => flags(t, 12, 0, L.ICANON | L.ECHO | L.ISIG | L.IEXTEN);
const type = (ld: LineDiscipline, s: string) => ld.input(Buffer.from(s, 'latin1'));
const text = async (p: Promise<Buffer>) => (await p).toString('latin1');

describe('canonical mode (the default cooked terminal)', () => {
  it('CR becomes NL (ICRNL), a read returns one whole line, echo shows what was typed', async () => {
    const { ld, echo } = setup();
    type(ld, 'ab\rcd\r');
    expect(await text(ld.read(100))).toBe('ab\n');
    expect(await text(ld.read(100))).toBe('cd\n');
    expect(echo()).toBe('ab\ncd\n');
  });

  it('a read waits for the end of the line', async () => {
    const { ld } = setup();
    const r = ld.read(100);
    type(ld, 'x = 1');
    let done = false;
    void r.then(() => (done = true));
    await new Promise((ok) => setTimeout(ok, 20));
    expect(done).toBe(false);
    type(ld, '\n');
    expect(await text(r)).toBe('x = 1\n');
  });

  it('erase, word erase and kill edit the line, and echo erases on screen (ECHOE, ECHOKE)', async () => {
    const { ld, echo } = setup();
    type(ld, 'abc\x7f\x7fX\r');
    expect(await text(ld.read(100))).toBe('aX\n');
    expect(echo()).toBe('abc\b \b\b \bX\n');
    type(ld, 'one two\x17three\r');
    expect(await text(ld.read(100))).toBe('one three\n');
    type(ld, 'gone\x15kept\r');
    expect(await text(ld.read(100))).toBe('kept\n');
  });

  it('EOF at the start of a line is end of input (a read of 0); after text it ends the line without a newline', async () => {
    const { ld } = setup();
    type(ld, 'abc\x04\x04');
    expect(await text(ld.read(100))).toBe('abc');
    expect((await ld.read(100)).length).toBe(0);
  });

  it('a line longer than the read comes in pieces', async () => {
    const { ld } = setup();
    type(ld, 'abcdef\n');
    expect(await text(ld.read(4))).toBe('abcd');
    expect(await text(ld.read(4))).toBe('ef\n');
  });

  it('control characters echo as ^X (ECHOCTL); LNEXT takes the next one literally', async () => {
    const { ld, echo } = setup();
    type(ld, '\x16\x7f\x01\n');
    expect(await text(ld.read(100))).toBe('\x7f\x01\n');
    expect(echo()).toBe('^\b\b \b\b \b^?^A\n');
  });

  it('IGNCR drops CR, INLCR turns NL into CR (which ends no line), no ECHO shows nothing', async () => {
    const { ld, echo } = setup((t) => {
      flags(t, 0, I.IGNCR | I.INLCR);
      flags(t, 12, L.ECHONL, L.ECHO);
    });
    type(ld, 'a\rb\x0d');
    type(ld, 'c\n');
    expect(echo()).toBe('');
    ld.set(
      (() => {
        const t = defaultTermios();
        flags(t, 0, 0, I.ICRNL);
        return t;
      })(),
      false,
    );
    type(ld, 'd\n');
    expect(await text(ld.read(100))).toBe('abc\rd\n'); // the CR made from NL ended no line
  });
});

describe('signal characters', () => {
  it('with ISIG, Ctrl-C and Ctrl-\\ signal, flush the input and interrupt a pending read (EINTR)', async () => {
    const { ld, signals, echo } = setup();
    type(ld, 'half a line');
    const r = ld.read(100);
    type(ld, '\x03');
    await expect(r).rejects.toSatisfy((e: unknown) => e instanceof GuestErrno && e.errno === Errno.EINTR);
    type(ld, '\x1c');
    expect(signals).toEqual(['SIGINT', 'SIGQUIT']);
    expect(echo()).toBe('half a line^C^\\');
    type(ld, 'next\n');
    expect(await text(ld.read(100))).toBe('next\n'); // the half line was flushed
  });

  it('without ISIG they are bytes for the guest; Ctrl-Z is dropped with it', async () => {
    const { ld, signals } = setup(raw);
    type(ld, '\x03\x1c');
    expect(await text(ld.read(100))).toBe('\x03\x1c');
    const s = setup();
    type(s.ld, 'a\x1ab\n');
    expect(await text(s.ld.read(100))).toBe('b\n');
    expect(signals).toEqual([]);
  });
});

describe('non-canonical mode', () => {
  it('VMIN=1 VTIME=0: a read returns as soon as a byte is there, with all that is there', async () => {
    const { ld } = setup(raw);
    const r = ld.read(100);
    type(ld, '\x1bOA');
    expect(await text(r)).toBe('\x1bOA');
  });

  it('VMIN=0 VTIME=0 polls: nothing there is a read of 0 at once', async () => {
    const { ld } = setup((t) => (raw(t), cc(t, V.MIN, 0)));
    expect((await ld.read(10)).length).toBe(0);
  });

  it('VMIN=0 VTIME=1 waits a tenth of a second for a byte', async () => {
    const { ld } = setup((t) => (raw(t), cc(t, V.MIN, 0), cc(t, V.TIME, 1)));
    const t0 = Date.now();
    expect((await ld.read(10)).length).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
  });

  it('VMIN=3 waits for three bytes; with VTIME the gap after the first byte ends the wait', async () => {
    const a = setup((t) => (raw(t), cc(t, V.MIN, 3)));
    const r = a.ld.read(10);
    type(a.ld, 'ab');
    type(a.ld, 'c');
    expect(await text(r)).toBe('abc');
    const b = setup((t) => (raw(t), cc(t, V.MIN, 3), cc(t, V.TIME, 1)));
    const r2 = b.ld.read(10);
    type(b.ld, 'x');
    expect(await text(r2)).toBe('x');
  });

  it('leaving canonical mode makes the line being edited readable; TCSETSF flushes it', async () => {
    const { ld } = setup();
    type(ld, 'par');
    const t = defaultTermios();
    raw(t);
    ld.set(t, false);
    expect(await text(ld.read(10))).toBe('par');
    type(ld, 'zzz');
    ld.set(t, true);
    type(ld, 'q');
    expect(await text(ld.read(10))).toBe('q');
  });

  it('FIONREAD counts what a read could return (whole lines only in canonical mode)', () => {
    const { ld } = setup();
    type(ld, 'ab\ncd');
    expect(ld.available()).toBe(3);
  });
});

// The serial console decoder: bytes a firmware or iPXE writes to a terminal
// (captured from QEMU's SeaBIOS + iPXE ROM over a serial port) become the
// lines a reader of that terminal would have seen.
import { describe, expect, it } from 'vitest';
import { MAX_TERMINAL_LINE, TerminalLines } from '../../src/console/terminal.js';

describe('TerminalLines', () => {
  it('drops escape sequences and CRLFs, keeps the text', () => {
    const t = new TerminalLines();
    const lines = t.feed('\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n\n\n'
      + '\x1b[0;1miPXE 1.0.0+git-20190125.36a4c85-5.1\x1b[0m -- Open Source Network Boot Firmware -- \x1b[0;36mhttp\r\n://ipxe.org\r\n');
    expect(lines).toEqual(['SeaBIOS (version 1.16.2-debian-1.16.2-1)', 'iPXE 1.0.0+git-20190125.36a4c85-5.1 -- Open Source Network Boot Firmware -- http', '://ipxe.org']);
  });

  it('applies backspaces as a terminal does: iPXE erasing its Ctrl-B prompt leaves the next line only', () => {
    const t = new TerminalLines();
    const prompt = 'Press Ctrl-B for the iPXE command line...';
    const lines = t.feed(prompt + '\b \b'.repeat(prompt.length) + 'net0: 52:54:00:12:34:56 using 82540em on 0000:00:03.0 (open)\r\n');
    expect(lines).toEqual(['net0: 52:54:00:12:34:56 using 82540em on 0000:00:03.0 (open)']);
  });

  it('joins a line split across chunks, and an escape sequence split across chunks', () => {
    const t = new TerminalLines();
    expect(t.feed('iPXE initi')).toEqual([]);
    expect(t.feed('alising devices...ok\x1b[0')).toEqual([]);
    expect(t.feed(';1m\r\nnext\r\n')).toEqual(['iPXE initialising devices...ok', 'next']);
  });

  it('a bare CR ends what was written before it; blank overwrites are dropped', () => {
    const t = new TerminalLines();
    expect(t.feed('Press Ctrl-B to configure iPXE (PCI 00:03.0)...\r' + ' '.repeat(79) + '\r\n\n\nBooting from ROM...\r\n'))
      .toEqual(['Press Ctrl-B to configure iPXE (PCI 00:03.0)...', 'Booting from ROM...']);
  });

  it('bounds a line without newlines, and flushes the partial line at the end', () => {
    const t = new TerminalLines();
    const lines = t.feed('x'.repeat(MAX_TERMINAL_LINE * 2 + 5));
    expect(lines.map((l) => l.length)).toEqual([MAX_TERMINAL_LINE, MAX_TERMINAL_LINE]);
    expect(t.flush()).toEqual(['xxxxx']);
    expect(t.flush()).toEqual([]);
  });
});

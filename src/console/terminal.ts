// Turns a serial console's byte stream (firmware, iPXE, a kernel before its
// own log shipping starts) into text lines for the console buffer. A serial
// console is a terminal: escape sequences set colours and clear the screen,
// backspace and carriage return overwrite. Lines are kept as a reader of the
// terminal would last have seen them, without the control codes.

/** Longest line kept; a stream without newlines is cut into lines of this length. */
export const MAX_TERMINAL_LINE = 1024;

// ESC [ params final (CSI), ESC ] … BEL/ST (OSC), and two-byte ESC sequences (ESC c resets the screen).
const ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_a-z])/g;

export class TerminalLines {
  private pending = '';
  /** An escape sequence cut off at the end of a chunk waits for the rest. */
  private held = '';

  /** Feeds bytes; returns the lines completed by them (blank lines dropped). */
  feed(chunk: Buffer | string): string[] {
    let text = this.held + (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    this.held = '';
    const lastEsc = text.lastIndexOf('\x1b');
    if (lastEsc >= 0 && lastEsc > text.length - 32) {
      const tail = text.slice(lastEsc);
      ESCAPE.lastIndex = 0;
      const m = ESCAPE.exec(tail);
      if (!m || m.index !== 0) {
        this.held = tail;
        text = text.slice(0, lastEsc);
      }
    }
    const out: string[] = [];
    for (const ch of text.replace(ESCAPE, '')) {
      if (ch === '\n') {
        this.emit(out);
      } else if (ch === '\r') {
        // A bare CR returns to column 0: what follows overwrites. Text written
        // before it counts as a line of its own, so a progress line is not lost.
        this.emit(out);
      } else if (ch === '\b') {
        this.pending = this.pending.slice(0, -1);
      } else if (ch === '\t' || ch >= ' ') {
        if (ch === '\x7f') continue;
        this.pending += ch;
        if (this.pending.length >= MAX_TERMINAL_LINE) this.emit(out);
      }
    }
    return out;
  }

  /** The partial line, if any, as a last line (when the stream ends). */
  flush(): string[] {
    const out: string[] = [];
    this.emit(out);
    this.held = '';
    return out;
  }

  private emit(out: string[]): void {
    const line = this.pending.trimEnd();
    this.pending = '';
    if (line.trim()) out.push(line);
  }
}

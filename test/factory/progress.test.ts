// The live "waiting for …" line long start-ups show (lab up), and which
// sink a CLI command draws on: redrawn on a terminal, plain lines in a log,
// a pipe or CI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/cli.js';
import { cliProgressSink, waitLine, waitReporter } from '../../src/factory/progress.js';
import { LabUpProgress } from '../../src/lab/up-progress.js';

describe('the waiting line', () => {
  it('says what it waits for, for how long, and the nodes per state that are not zero', () => {
    expect(waitLine({ what: 'rackboot serve' }, 2900)).toBe('waiting for rackboot serve: 2 s');
    expect(waitLine({ what: 'QEMU', counts: { registered: 0, booting: 2, maintenance: 1 } }, 12_000)).toBe('waiting for QEMU: 12 s; nodes: 2 booting, 1 maintenance');
  });

  it('on a terminal: one line redrawn in place (cleared each time), at most ten times a second, cleared at the end', () => {
    const out: string[] = [];
    let t = 0;
    const r = waitReporter({ isTTY: true, write: (s) => out.push(s) }, () => t);
    r.set({ what: 'rackboot serve' });
    t = 50; r.tick(); // throttled
    t = 1200; r.tick();
    t = 1250; r.set({ what: "lab-1's BMC" }); // a new wait draws at once, its clock from zero
    t = 3300; r.set({ what: "lab-1's BMC", counts: { booting: 1 } });
    r.done('ready');
    expect(out).toEqual([
      '\r\x1b[Kwaiting for rackboot serve: 0 s',
      '\r\x1b[Kwaiting for rackboot serve: 1 s',
      "\r\x1b[Kwaiting for lab-1's BMC: 0 s",
      "\r\x1b[Kwaiting for lab-1's BMC: 2 s; nodes: 1 booting",
      '\r\x1b[Kready\n',
    ]);
  });

  it('otherwise: a plain line only when what it waits for or the counts change, never per tick', () => {
    const out: string[] = [];
    let t = 0;
    const r = waitReporter({ isTTY: false, write: (s) => out.push(s) }, () => t);
    r.set({ what: 'rackboot serve' });
    for (t = 100; t < 5000; t += 100) r.tick();
    r.set({ what: 'rackboot serve' });
    r.set({ what: 'QEMU' });
    t = 7000; r.set({ what: 'QEMU', counts: { booting: 3 } });
    r.set({ what: 'QEMU', counts: { booting: 3 } });
    r.done();
    expect(out).toEqual(['waiting for rackboot serve: 0 s', 'waiting for QEMU: 0 s', 'waiting for QEMU: 2 s; nodes: 3 booting']);
  });
});

describe('which sink a command draws on', () => {
  const tty = (isTTY: boolean) => ({ isTTY, written: [] as string[], write(t: string) { this.written.push(t); } });

  it('a terminal outside CI gets raw redraws; a pipe, or CI on a terminal, gets plain lines', () => {
    const lines: string[] = [];
    const term = tty(true);
    const a = cliProgressSink((l) => lines.push(l), term, {});
    expect(a.isTTY).toBe(true);
    a.write('\rx');
    expect(term.written).toEqual(['\rx']);
    expect(cliProgressSink((l) => lines.push(l), tty(false), {}).isTTY).toBe(false);
    const ci = cliProgressSink((l) => lines.push(l), tty(true), { CI: 'true' });
    expect(ci.isTTY).toBe(false);
    ci.write('plain');
    expect(lines).toEqual(['plain']);
    expect(cliProgressSink(() => {}, tty(true), { CI: 'false' }).isTTY).toBe(true);
  });

  it('on a real pseudo-terminal (script -qc) the built lab progress redraws; through a pipe or under CI it prints plain lines', async () => {
    const { execFileSync } = await import('node:child_process');
    const dist = (f: string) => JSON.stringify(join(REPO, 'dist', f));
    const program = `const { cliProgressSink } = await import(${dist('factory/progress.js')});
      const { LabUpProgress } = await import(${dist('lab/up-progress.js')});
      const p = new LabUpProgress(cliProgressSink((l) => process.stderr.write(l + '\\n')), { tickMs: 20 });
      p.waiting('rackboot serve'); await new Promise((r) => setTimeout(r, 1100)); p.finish('up');`;
    const file = join(mkdtempSync(join(tmpdir(), 'rb-progress-')), 'probe.mjs');
    writeFileSync(file, program);
    try {
      const run = `${JSON.stringify(process.execPath)} ${JSON.stringify(file)}`;
      const onTerminal = execFileSync('script', ['-qc', run, '/dev/null'], { encoding: 'utf8', env: { ...process.env, CI: '' } });
      expect(onTerminal).toContain('\r\x1b[Kwaiting for rackboot serve: 0 s');
      expect(onTerminal).toContain('\r\x1b[Kwaiting for rackboot serve: 1 s');
      expect(onTerminal).toContain('\r\x1b[Kup');
      const piped = execFileSync('sh', ['-c', `${run} 2>&1 | cat`], { encoding: 'utf8', env: { ...process.env, CI: '' } });
      expect(piped).toBe('waiting for rackboot serve: 0 s\nup\n');
      const ci = execFileSync('script', ['-qc', run, '/dev/null'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      expect(ci.replace(/\r/g, '')).toBe('waiting for rackboot serve: 0 s\nup\n');
    } finally {
      rmSync(dirname(file), { recursive: true, force: true });
    }
  });
});

describe('lab up\'s progress', () => {
  it('redraws on a timer and adds the nodes per state once it may ask the appliance', async () => {
    const out: string[] = [];
    let asked = 0;
    const p = new LabUpProgress({ isTTY: true, write: (s) => out.push(s) }, { tickMs: 10, countsEveryMs: 0 });
    p.waiting('rackboot serve');
    await new Promise((r) => setTimeout(r, 150));
    p.countFrom(async () => (asked++, { booting: 2, registered: 1 }));
    p.waiting('QEMU on every machine');
    await new Promise((r) => setTimeout(r, 150));
    p.finish();
    const draws = out.filter((s) => s.startsWith('\r\x1b[Kwaiting'));
    expect(draws[0]).toBe('\r\x1b[Kwaiting for rackboot serve: 0 s');
    expect(asked).toBeGreaterThan(0);
    expect(draws.some((s) => s === '\r\x1b[Kwaiting for QEMU on every machine: 0 s; nodes: 2 booting, 1 registered')).toBe(true);
    expect(out.at(-1)).toBe('\r\x1b[K');
    const n = out.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(out.length).toBe(n); // the timer stopped
  });

  it('plain: one line per wait and per change of counts, and an appliance that does not answer changes nothing', async () => {
    const out: string[] = [];
    const p = new LabUpProgress({ isTTY: false, write: (s) => out.push(s) }, { tickMs: 10, countsEveryMs: 0 });
    p.waiting('rackboot serve');
    p.countFrom(async () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    p.countFrom(async () => { throw new Error('curl: (7) refused'); });
    await new Promise((r) => setTimeout(r, 100));
    p.finish('done');
    expect(out).toEqual(['waiting for rackboot serve: 0 s', 'done']);
  });
});

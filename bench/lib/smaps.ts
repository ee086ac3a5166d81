// Where a process's resident memory lives, from /proc/PID/smaps: the glibc
// main heap ([heap], brk), anonymous mappings (V8's heap pages, malloc's
// thread arenas and its mmap'd large chunks, thread stacks), and file-backed
// mappings (the node binary, libraries, SQLite's mapped files). The bench
// compares two points with it, to say which kind grew.
import { readFileSync } from 'node:fs';

export interface Mapping { start: string; size: number; rss: number; anon: number; name: string }
export interface MemoryKinds { heap: number; anon: number; file: number; mappings: Mapping[] }

/** Resident kB by kind, and every mapping (kB), of process `pid`. */
export function memoryKinds(pid: number): MemoryKinds {
  const mappings: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: head[1]!, size: (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024, rss: 0, anon: 0, name: head[3] || '[anon]' };
      mappings.push(cur);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB$/.exec(line);
    if (field && cur) cur[field[1] === 'Rss' ? 'rss' : 'anon'] = Number(field[2]);
  }
  const sum = (keep: (m: Mapping) => boolean) => mappings.filter(keep).reduce((a, m) => a + m.rss, 0);
  return {
    heap: sum((m) => m.name === '[heap]'),
    anon: sum((m) => m.name === '[anon]' || m.name.startsWith('[stack')),
    file: sum((m) => m.name.startsWith('/')),
    mappings,
  };
}

/** One line: kB by kind at `a` and `b`, and the mappings (by start address) whose resident size changed most. */
export function describeGrowth(a: MemoryKinds, b: MemoryKinds, top = 6): string {
  const was = new Map(a.mappings.map((m) => [m.start, m]));
  const changes = b.mappings
    .map((m) => ({ m, delta: m.rss - (was.get(m.start)?.rss ?? 0) }))
    .filter((c) => c.delta !== 0)
    .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta))
    .slice(0, top)
    .map(({ m, delta }) => `${m.name} @${m.start} (${(m.size / 1024).toFixed(1)} MB mapped): ${delta > 0 ? '+' : ''}${(delta / 1024).toFixed(1)} MB${was.has(m.start) ? '' : ' (new)'}`);
  const kind = (k: 'heap' | 'anon' | 'file') => `${k} ${(a[k] / 1024).toFixed(1)} -> ${(b[k] / 1024).toFixed(1)} MB`;
  return `${kind('heap')}, ${kind('anon')}, ${kind('file')}; largest changes: ${changes.join('; ') || 'none'}`;
}

// After a large inventory reload, give the memory it used back to the
// kernel. The JavaScript side shrinks on its own (V8 unmaps free pages after
// its GCs); what stays is malloc'd: SQLite's page cache, filled by the
// staging table and the diff over thousands of rows, and the freed chunks
// of better-sqlite3's work. SQLite frees its unused cache on
// `PRAGMA shrink_memory`, but glibc keeps freed chunks in its arenas unless
// they sit at the top of the heap; malloc_trim(0) (the native addon's
// mallocTrim) returns the free pages from anywhere in every arena.
// When the inventory shrank, a full V8 collection goes first: the dropped
// nodes' objects otherwise wait for V8's own schedule, which on an idle
// daemon took longer than the bench's 5 s, and Buffers it frees give malloc
// chunks back for the trim. After a reload that grew the inventory the
// collection is skipped: most of the heap is live then, and collecting it
// took 60-80 ms here against 27-33 ms after the switch back (loaded box).
import type Database from 'better-sqlite3';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { optionalAddonCalls } from '../net/addon.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

type Trim = () => boolean;
let trim: Trim | null | undefined;

/** The addon's mallocTrim, or null where the addon is not built or predates it. */
function mallocTrim(): Trim | null {
  if (trim === undefined) trim = optionalAddonCalls<{ mallocTrim: Trim }>(['mallocTrim'])?.mallocTrim ?? null;
  return trim;
}

let fullGc: (() => void) | undefined;

/** V8's gc() without --expose-gc on the command line: the flag set at run time, the function taken from a fresh context. */
function collect(): void {
  if (!fullGc) {
    setFlagsFromString('--expose-gc');
    fullGc = runInNewContext('gc') as () => void;
  }
  fullGc();
}

export interface Released {
  /** RSS before and after, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /** Whether malloc_trim ran (false: only SQLite's cache was shrunk). */
  trimmed: boolean;
  /** Milliseconds of each step; each holds the event loop. gcMs is 0 when no collection was asked for. */
  gcMs: number;
  shrinkMs: number;
  trimMs: number;
}

/** The three steps, each in its own event-loop turn, so none adds to another's hold on the loop. */
export async function releaseMemory(db: Database.Database, opts: { collect: boolean }): Promise<Released> {
  const rssBefore = process.memoryUsage.rss();
  let t = performance.now();
  if (opts.collect) collect();
  const gcMs = opts.collect ? performance.now() - t : 0;
  if (opts.collect) await nextTurn();
  t = performance.now();
  if (db.open) db.pragma('shrink_memory');
  const shrinkMs = performance.now() - t;
  await nextTurn();
  t = performance.now();
  const trim = mallocTrim();
  if (trim) trim();
  const trimMs = performance.now() - t;
  return { rssBefore, rssAfter: process.memoryUsage.rss(), trimmed: trim !== null, gcMs, shrinkMs, trimMs };
}

// After a large inventory reload, give the memory it used back to the
// kernel. The JavaScript side shrinks on its own (V8 unmaps free pages after
// its GCs); what stays is malloc'd: SQLite's page cache, filled by the
// staging table and the diff over thousands of rows, and the freed chunks
// of better-sqlite3's work. SQLite frees its unused cache on
// `PRAGMA shrink_memory`, but glibc keeps freed chunks in its arenas unless
// they sit at the top of the heap; malloc_trim(0) (the native addon's
// mallocTrim) returns the free pages from anywhere in every arena.
import type Database from 'better-sqlite3';
import { loadInterfaceSockets } from '../net/addon.js';

type Trim = () => boolean;
let trim: Trim | null | undefined;

/** The addon's mallocTrim, or null where the addon is not built or predates it. */
function mallocTrim(): Trim | null {
  if (trim !== undefined) return trim;
  try {
    const addon = loadInterfaceSockets('memory release') as unknown as { mallocTrim?: Trim };
    trim = typeof addon.mallocTrim === 'function' ? addon.mallocTrim : null;
  } catch {
    trim = null;
  }
  return trim;
}

export interface Released {
  /** RSS before and after, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /** Whether malloc_trim ran (false: only SQLite's cache was shrunk). */
  trimmed: boolean;
  ms: number;
}

export function releaseMemory(db: Database.Database): Released {
  const started = performance.now();
  const rssBefore = process.memoryUsage.rss();
  db.pragma('shrink_memory');
  const t = mallocTrim();
  if (t) t();
  return { rssBefore, rssAfter: process.memoryUsage.rss(), trimmed: t !== null, ms: performance.now() - started };
}

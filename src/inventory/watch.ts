// Hot reload of the inventory file. Editors save by writing a temp file and
// renaming it over the original, which replaces the inode a plain file
// watch would follow, so we watch the directory and also poll the file's
// identity (inode, size, mtime) as a backstop for filesystems without
// inotify. A valid edit goes into the store (only what changed; see
// store/inventory-sync.ts); an invalid one is rejected and the last good
// inventory stays live. Log lines carry counts and a few names, never a list
// of every node.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { Store, InventorySyncResult } from '../store/store.js';
import { formatInventoryError, loadInventoryFile } from './load.js';
import { loadInventoryOffThread, NoParseWorker } from './parse-off-thread.js';
import { releaseMemory } from '../store/release-memory.js';
import type { Inventory, InventoryError, LoadResult } from './types.js';
import type { RenderSettings } from './render-check.js';

/** Error lines logged for one rejected file; the rest are counted. */
export const LOGGED_ERRORS = 20;
/** Node names logged per kind of change; the rest are counted. */
export const LOGGED_NAMES = 10;
/**
 * A reload that staged or changed this many nodes gives its memory back to
 * the kernel afterwards (store/release-memory.ts), once the parse worker has
 * exited: without it, RSS stayed 5-8 MB above its level before a reload to
 * 5,000 nodes and back.
 */
export const RELEASE_AFTER_NODES = 250;
export const RELEASE_DELAY_MS = 1000;

/** A list of node names for a log line: the count and the first few, never thousands. */
export function namesInBrief(names: string[]): { count: number; first: string[] } {
  return { count: names.length, first: names.slice(0, LOGGED_NAMES) };
}

/** Whether a valid file may go into a store other appliances share (src/store/pg/appliances.ts). */
export interface InventoryClaims {
  /** Why this file must not be loaded, or undefined to go ahead. */
  claimInventory(digest: string, nodes: number): Promise<string | undefined>;
  inventoryApplied(digest: string): Promise<void>;
}

export interface InventoryStatus {
  ok: boolean;
  file: string;
  errors: InventoryError[];
  /** When the live inventory was last loaded (ms since epoch), or null before the first good load. */
  loadedAt: number | null;
  /** When the file was last checked, good or bad. */
  checkedAt: number | null;
}

export class InventoryWatcher extends EventEmitter {
  private live: Inventory | undefined;
  private state: InventoryStatus;
  private dirWatcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private identity = '';

  constructor(
    readonly file: string,
    private readonly store: Store,
    private readonly log: Logger,
    /** render: the settings configs are rendered with, so a patch that cannot apply is refused on reload. */
    /** claims: several appliances on one database (src/store/pg/appliances.ts) say whether this file may be loaded. */
    private readonly opts: { debounceMs?: number; pollMs?: number; render?: RenderSettings; claims?: InventoryClaims } = {},
  ) {
    super();
    this.state = { ok: false, file, errors: [], loadedAt: null, checkedAt: null };
  }

  get inventory(): Inventory | undefined {
    return this.live;
  }

  get status(): InventoryStatus {
    return this.state;
  }

  /**
   * Loads the file now, blocking: for the first load, before anything is
   * served. Returns true when it was valid and applied.
   */
  reload(): boolean {
    this.identity = this.fileIdentity();
    const result = loadInventoryFile(this.file, this.opts.render);
    if (!result.ok) return this.rejected(result.errors);
    let changes: InventorySyncResult;
    try {
      changes = this.store.syncInventory(result.inventory);
    } catch (err) {
      return this.notStored(err);
    }
    return this.applied(result.inventory, changes);
  }

  private release: NodeJS.Timeout | undefined;

  /** `collect`: the inventory shrank, so a full GC first has garbage worth its pause. */
  private releaseSoon(collect: boolean): void {
    if (this.release) clearTimeout(this.release);
    this.release = setTimeout(() => {
      this.release = undefined;
      if (!this.store.db.open) return;
      void releaseMemory(this.store.db, { collect }).then((r) => {
        const ms = (x: number) => Math.round(x * 10) / 10;
        this.log.info({ rssBeforeMb: Math.round(r.rssBefore / 2 ** 20), rssAfterMb: Math.round(r.rssAfter / 2 ** 20), trimmed: r.trimmed, gcMs: ms(r.gcMs), shrinkMs: ms(r.shrinkMs), trimMs: ms(r.trimMs) }, 'memory released after a large inventory reload');
      }, (err: unknown) => this.log.warn({ err }, 'could not release memory after the reload'));
    }, RELEASE_DELAY_MS);
    this.release.unref();
  }

  /**
   * Loads the file while the daemon serves: parsed in a worker thread and
   * stored in slices (see parse-off-thread.ts, store/inventory-sync.ts), so
   * DHCP and TFTP keep answering during a reload of thousands of nodes.
   * Reloads asked for while one runs are folded into one more after it.
   */
  reloadInBackground(): Promise<boolean> {
    if (this.running) {
      this.again ??= this.running.then(() => {
        this.again = undefined;
        return this.reloadInBackground();
      });
      return this.again;
    }
    this.running = this.loadInBackground().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private running: Promise<boolean> | undefined;
  private again: Promise<boolean> | undefined;

  private async loadInBackground(): Promise<boolean> {
    this.identity = this.fileIdentity();
    let result: LoadResult;
    try {
      result = await loadInventoryOffThread(this.file, this.opts.render);
    } catch (err) {
      if (!(err instanceof NoParseWorker)) throw err;
      this.log.warn({ err: err.message }, 'parsing the inventory on the main thread');
      result = loadInventoryFile(this.file, this.opts.render);
    }
    if (!result.ok) return this.rejected(result.errors);
    const claims = this.opts.claims;
    let digest = '';
    if (claims) {
      let refusal: string | undefined;
      try {
        digest = createHash('sha256').update(await readFile(this.file)).digest('hex');
        refusal = await claims.claimInventory(digest, result.inventory.nodes.length);
      } catch (err) {
        return this.notStored(err);
      }
      if (refusal) return this.rejected([{ file: this.file, line: 0, col: 0, message: refusal }]);
    }
    let changes: InventorySyncResult;
    try {
      changes = await this.store.syncInventoryInSlices(result.inventory);
      if (claims) await claims.inventoryApplied(digest);
    } catch (err) {
      return this.notStored(err);
    }
    return this.applied(result.inventory, changes);
  }

  private rejected(errors: InventoryError[]): false {
    this.state = { ...this.state, ok: false, errors, checkedAt: Date.now() };
    // One line per error, but not thousands: a file with an error on every node says how many more.
    for (const e of errors.slice(0, LOGGED_ERRORS)) this.log.error({ file: this.file }, `inventory rejected: ${formatInventoryError(e)}`);
    if (errors.length > LOGGED_ERRORS) this.log.error({ file: this.file, errors: errors.length }, `inventory rejected: ${errors.length - LOGGED_ERRORS} more errors (all of them: rackboot inventory check, or GET /api/inventory)`);
    if (this.live) this.log.warn('the last good inventory stays live');
    this.emit('rejected', errors);
    return false;
  }

  private notStored(err: unknown): false {
    const message = `inventory could not be stored: ${(err as Error).message}`;
    this.state = { ...this.state, ok: false, errors: [{ file: this.file, line: 0, col: 0, message }], checkedAt: Date.now() };
    this.log.error({ err }, message);
    return false;
  }

  private applied(inventory: Inventory, changes: InventorySyncResult): true {
    const staged = Math.max(inventory.nodes.length, changes.added.length + changes.updated.length + changes.removed.length);
    if (staged >= RELEASE_AFTER_NODES) this.releaseSoon(changes.removed.length >= RELEASE_AFTER_NODES);
    const now = Date.now();
    this.live = inventory;
    this.state = { ok: true, file: this.file, errors: [], loadedAt: now, checkedAt: now };
    this.log.info({ nodes: inventory.nodes.length, added: namesInBrief(changes.added), updated: namesInBrief(changes.updated), removed: namesInBrief(changes.removed) }, 'inventory loaded');
    this.emit('applied', inventory, changes);
    return true;
  }

  start(): void {
    const dir = dirname(this.file);
    const name = basename(this.file);
    try {
      this.dirWatcher = watch(dir, (_event, changed) => {
        if (changed === null || changed === name) this.schedule();
      });
      this.dirWatcher.on('error', (err) => this.log.warn({ err }, 'inventory directory watch failed; polling only'));
    } catch (err) {
      this.log.warn({ err }, 'cannot watch the inventory directory; polling only');
    }
    this.poll = setInterval(() => {
      if (this.fileIdentity() !== this.identity) this.schedule();
    }, this.opts.pollMs ?? 1000);
    this.poll.unref();
  }

  stop(): void {
    this.dirWatcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    if (this.release) clearTimeout(this.release);
  }

  // Editors write in several steps (truncate, write, rename); wait for quiet.
  private schedule(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (this.fileIdentity() === this.identity) return;
      this.reloadInBackground().catch((err) => this.log.error({ err }, 'inventory reload failed; the last good inventory stays live'));
    }, this.opts.debounceMs ?? 150);
    this.debounce.unref();
  }

  private fileIdentity(): string {
    try {
      const st = statSync(this.file, { bigint: true });
      return `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return 'missing';
    }
  }
}

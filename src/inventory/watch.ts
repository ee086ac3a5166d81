// Hot reload of the inventory file. Editors save by writing a temp file and
// renaming it over the original, which replaces the inode a plain file
// watch would follow, so we watch the directory and also poll the file's
// identity (inode, size, mtime) as a backstop for filesystems without
// inotify. A valid edit goes into the store in one transaction; an invalid
// one is rejected and the last good inventory stays live.
import { EventEmitter } from 'node:events';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { Store, InventorySyncResult } from '../store/store.js';
import { formatInventoryError, loadInventoryFile } from './load.js';
import type { Inventory, InventoryError } from './types.js';
import type { RenderSettings } from './render-check.js';

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
    private readonly opts: { debounceMs?: number; pollMs?: number; render?: RenderSettings } = {},
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

  /** Loads the file now. Returns true when it was valid and applied. */
  reload(): boolean {
    this.identity = this.fileIdentity();
    const result = loadInventoryFile(this.file, this.opts.render);
    const now = Date.now();
    if (!result.ok) {
      this.state = { ...this.state, ok: false, errors: result.errors, checkedAt: now };
      for (const e of result.errors) this.log.error({ file: this.file }, `inventory rejected: ${formatInventoryError(e)}`);
      if (this.live) this.log.warn('the last good inventory stays live');
      this.emit('rejected', result.errors);
      return false;
    }
    let changes: InventorySyncResult;
    try {
      changes = this.store.syncInventory(result.inventory);
    } catch (err) {
      const message = `inventory could not be stored: ${(err as Error).message}`;
      this.state = { ...this.state, ok: false, errors: [{ file: this.file, line: 0, col: 0, message }], checkedAt: now };
      this.log.error({ err }, message);
      return false;
    }
    this.live = result.inventory;
    this.state = { ok: true, file: this.file, errors: [], loadedAt: now, checkedAt: now };
    this.log.info({ nodes: result.inventory.nodes.length, ...changes }, 'inventory loaded');
    this.emit('applied', result.inventory, changes);
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
  }

  // Editors write in several steps (truncate, write, rename); wait for quiet.
  private schedule(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (this.fileIdentity() === this.identity) return;
      this.reload();
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

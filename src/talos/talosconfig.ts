// Reads the admin identity out of a talosconfig (the file talosctl uses):
// the current context's base64 ca, crt and key. rackboot keeps its own in
// data/talosconfig.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { AdminIdentity } from './credentials.js';

export function talosconfigPath(dataDir: string): string {
  return join(dataDir, 'talosconfig');
}

interface Talosconfig {
  context?: string;
  contexts?: Record<string, { ca?: string; crt?: string; key?: string }>;
}

export function parseTalosconfig(text: string, source = 'talosconfig'): AdminIdentity {
  const doc = parse(text) as Talosconfig | null;
  const name = doc?.context;
  const ctx = name ? doc?.contexts?.[name] : undefined;
  if (!ctx) throw new Error(`${source}: no current context${name ? ` ${JSON.stringify(name)}` : ''}`);
  const field = (k: 'ca' | 'crt' | 'key') => {
    const v = ctx[k];
    if (typeof v !== 'string' || v === '') throw new Error(`${source}: context ${name} has no ${k}`);
    return Buffer.from(v, 'base64').toString('utf8');
  };
  return { ca: field('ca'), crt: field('crt'), key: field('key') };
}

export function loadAdminIdentity(file: string): AdminIdentity {
  return parseTalosconfig(readFileSync(file, 'utf8'), file);
}

// Install disk by selector: the inventory names the disk by what it is
// (model, serial, wwid, transport, rotational, size) and rackboot picks it
// from the disks the node reported in maintenance mode (hardware.ts) before
// the config leaves. Exactly one disk must match: none or several is a
// refusal that lists the candidates, never a guess.
import type { DiskSelector } from '../inventory/types.js';
import { prettySize, type DiskFact } from './hardware.js';

export type { DiskSelector } from '../inventory/types.js';

export interface SizeCondition { op: '>=' | '<=' | '>' | '<' | '=='; bytes: number }

const UNIT: Record<string, number> = {
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50,
};

/** Parses `>= 400GB`; undefined when it is not a size condition. A bare size means "exactly". */
export function parseSizeCondition(text: string): SizeCondition | undefined {
  const m = /^\s*(>=|<=|>|<|==)?\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNIT[m[3]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return { op: (m[1] ?? '==') as SizeCondition['op'], bytes: Math.round(Number(m[2]) * unit) };
}

function sizeMatches(c: SizeCondition, bytes: number): boolean {
  switch (c.op) {
    case '>=': return bytes >= c.bytes;
    case '<=': return bytes <= c.bytes;
    case '>': return bytes > c.bytes;
    case '<': return bytes < c.bytes;
    case '==': return bytes === c.bytes;
  }
}

const globRe = (g: string) => new RegExp(`^${g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/** Why `d` does not match, or undefined when it does. */
function mismatch(s: DiskSelector, d: DiskFact): string | undefined {
  if (d.cdrom) return 'a CD-ROM';
  if (d.readonly) return 'read-only';
  if (s.model !== undefined && !globRe(s.model.trim()).test(d.model.trim())) return `model ${JSON.stringify(d.model)}`;
  if (s.serial !== undefined && s.serial.trim() !== d.serial.trim()) return `serial ${JSON.stringify(d.serial)}`;
  if (s.wwid !== undefined && s.wwid.trim().toLowerCase() !== d.wwid.trim().toLowerCase()) return `wwid ${JSON.stringify(d.wwid)}`;
  if (s.transport !== undefined && s.transport.toLowerCase() !== d.transport.toLowerCase()) return `transport ${d.transport || 'unknown'}`;
  if (s.rotational !== undefined && s.rotational !== d.rotational) return d.rotational ? 'rotational' : 'not rotational';
  if (s.size !== undefined) {
    const c = parseSizeCondition(s.size);
    if (!c) return `size condition ${JSON.stringify(s.size)} unreadable`;
    if (!sizeMatches(c, d.size)) return `size ${prettySize(d.size)}`;
  }
  return undefined;
}

export type SelectorMatch =
  | { kind: 'one'; disk: DiskFact }
  | { kind: 'none'; candidates: { disk: DiskFact; why: string }[] }
  | { kind: 'many'; matches: DiskFact[] };

export function selectDisk(s: DiskSelector, disks: DiskFact[]): SelectorMatch {
  const judged = disks.map((disk) => ({ disk, why: mismatch(s, disk) }));
  const hits = judged.filter((j) => j.why === undefined).map((j) => j.disk);
  if (hits.length === 1) return { kind: 'one', disk: hits[0]! };
  if (hits.length > 1) return { kind: 'many', matches: hits };
  return { kind: 'none', candidates: judged.map((j) => ({ disk: j.disk, why: j.why! })) };
}

export function describeSelector(s: DiskSelector): string {
  return `{${Object.entries(s).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join(', ')}}`;
}

export const describeDisk = (d: DiskFact) =>
  `${d.devPath} (${prettySize(d.size)}${d.model ? `, model ${d.model}` : ''}${d.serial ? `, serial ${d.serial}` : ''}${d.transport ? `, ${d.transport}` : ''}${d.rotational ? ', rotational' : ''})`;

/** The operator-facing sentence for a refusal, candidates included. */
export function refusalText(s: DiskSelector, m: Exclude<SelectorMatch, { kind: 'one' }>, what = 'install disk selector'): string {
  if (m.kind === 'many') return `${what} ${describeSelector(s)} matches ${m.matches.length} disks: ${m.matches.map(describeDisk).join('; ')}; add serial or wwid to pick one`;
  if (m.candidates.length === 0) return `${what} ${describeSelector(s)} matches nothing: the node reported no disks`;
  return `${what} ${describeSelector(s)} matches no disk; candidates: ${m.candidates.map((c) => `${describeDisk(c.disk)}: ${c.why}`).join('; ')}`;
}

export class SelectorNotExpressible extends Error {}

/**
 * The selector as upstream's machine.install.diskSelector (v1alpha1
 * InstallDiskSelector, pkg/machinery/config/types/v1alpha1/v1alpha1_types.go,
 * v1.11.0..v1.13.x: size with the same [op]size syntax, model glob, serial,
 * wwid, type ssd|hdd|nvme|sd; the type match in v1alpha1_provider.go). Used only when rackboot has no disk list to
 * resolve against (a pull node, `rackboot config`): Talos then picks the
 * first disk that matches, with no ambiguity check. Transport has no
 * counterpart there except nvme and mmc, so another transport is refused
 * rather than dropped.
 */
export function upstreamDiskSelector(s: DiskSelector): Record<string, string> {
  const out: Record<string, string> = {};
  if (s.size !== undefined) out.size = s.size.trim();
  if (s.model !== undefined) out.model = s.model;
  if (s.serial !== undefined) out.serial = s.serial;
  if (s.wwid !== undefined) out.wwid = s.wwid;
  // One `type` upstream, and how v1alpha1_provider.go (v1.12.0) turns it into a disk match:
  // nvme → transport nvme, sd → transport mmc, hdd → rotational, ssd → not rotational.
  const transport = s.transport?.toLowerCase();
  const typeOf: Record<string, string> = { nvme: 'nvme', mmc: 'sd' };
  if (transport !== undefined) {
    if (!typeOf[transport]) {
      throw new SelectorNotExpressible(`install disk selector: transport ${transport} has no counterpart in Talos's machine.install.diskSelector (only nvme and mmc); without a disk list to resolve against (pull mode, rackboot config) use serial, wwid or model instead`);
    }
    if (s.rotational === true) throw new SelectorNotExpressible(`install disk selector: transport ${transport} with rotational: true cannot be said in Talos's diskSelector`);
    out.type = typeOf[transport]!;
  } else if (s.rotational !== undefined) out.type = s.rotational ? 'hdd' : 'ssd';
  return out;
}

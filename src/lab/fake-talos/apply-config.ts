// Lab and test use only.
// ApplyConfiguration on a configured fake node, as machined answers it:
// internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
// ApplyConfiguration and generateDiff, and
// internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go
// CanApplyImmediate, read at v1.11.5, v1.12.11 and v1.13.0 (the parts used
// here are the same in all three). Restated:
// - The bytes must load and validate as a config with a v1alpha1 document,
//   else InvalidArgument with the loader's or validator's message.
// - AUTO becomes NO_REBOOT when CanApplyImmediate passes, else REBOOT, and
//   the reply's mode_details then carries ": " and the reason.
//   NO_REBOOT and TRY are refused (InvalidArgument) when it does not pass.
// - CanApplyImmediate compares only the v1alpha1 documents, after copying
//   into the new one, from the running one, every field that may change in
//   place (IMMEDIATE below); anything else that differs needs a reboot.
//   Other documents (network, KmsgLogConfig …) never force a reboot.
// - dry_run answers the chosen mode and "Dry run summary:\n<details>
//   (skipped in dry-run).\nConfig diff:\n\n<unified diff or No changes.>",
//   the diff of the running and the new config re-encoded without comments
//   (pkg/machinery/config/configdiff DiffConfigs); nothing is applied.
// - NO_REBOOT / TRY: the new config is live at once. STAGED: kept for the
//   next boot. REBOOT: persisted, then the node reboots into it.
import * as grpc from '@grpc/grpc-js';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import type { ParsedConfig } from './cluster.js';
import type { Handler, NodeApi } from './machine-api.js';
import type { ApplyMode } from './profiles.js';
import { unifiedDiff } from '../../talos/config/text-diff.js';

/** v1alpha1 fields CanApplyImmediate copies from the running config (YAML paths). */
export const IMMEDIATE: string[][] = [
  ['debug'], ['cluster'],
  ...['ca', 'acceptedCAs', 'time', 'certSANs', 'install', 'network', 'sysfs', 'sysctls', 'logging', 'controlplane', 'kubelet', 'kernel',
    'registries', 'pods', 'seccompProfiles', 'nodeAnnotations', 'nodeLabels', 'nodeTaints'].map((f) => ['machine', f]),
  ...['kubernetesTalosAPIAccess', 'kubePrism', 'hostDNS', 'imageCache', 'nodeAddressSortAlgorithm'].map((f) => ['machine', 'features', f]),
];

/** How long the node's API is gone while it reboots into an applied config. */
export const REBOOT_DOWN_MS = 150;

type Doc = Record<string, any>;

function docs(data: Buffer | string): Doc[] {
  return parseAllDocuments(data.toString()).map((d) => d.toJS() as Doc);
}

const v1alpha1 = (ds: Doc[]) => ds.find((d) => d?.version === 'v1alpha1');

function copyPath(from: Doc, to: Doc, path: string[]): void {
  // The Go code copies features' fields only when both sides have machine.features, machine's when both have machine.
  const parentFrom = path.slice(0, -1).reduce<Doc | undefined>((o, k) => o?.[k], from);
  const parentTo = path.slice(0, -1).reduce<Doc | undefined>((o, k) => o?.[k], to);
  if (path.length > 1 && (!parentFrom || !parentTo)) return;
  const key = path[path.length - 1]!;
  const target = path.length > 1 ? parentTo! : to;
  const source = path.length > 1 ? parentFrom! : from;
  if (key in source) target[key] = source[key];
  else delete target[key];
}

/** Undefined when `next` can be applied without a reboot over `running`, else why not. */
export function cannotApplyImmediately(running: Buffer, next: Buffer): string | undefined {
  const cur = v1alpha1(docs(running));
  const nxt = v1alpha1(docs(next));
  if (!cur) return 'current config is not v1alpha1';
  if (!nxt) return 'new config is not v1alpha1';
  const copy = structuredClone(nxt);
  for (const p of IMMEDIATE) copyPath(cur, copy, p);
  if (isDeepStrictEqual(cur, copy)) return undefined;
  return `this config change can't be applied in immediate mode\ndiff:\n${unifiedDiff(stringify(cur), stringify(copy))}`;
}

const encode = (data: Buffer) => docs(data).map((d) => stringify(d)).join('---\n');

/**
 * Nodes between a REBOOT apply and their reboot. v1.12 and v1.13 refuse
 * every apply then (applyConfigRebooted, FailedPrecondition); v1.11.5 has no
 * such guard and diffs against the config still running.
 */
const rebooting = new WeakSet<NodeApi>();
const REFUSES_WHILE_REBOOTING = new Set(['v1.12', 'v1.13+']);

const invalid = (details: string) => Object.assign(new Error(details), { code: grpc.status.INVALID_ARGUMENT, details }) as grpc.ServiceError;

/** The active config text per node (what SetConfig holds); set from the install config on the first call. */
const active = new WeakMap<NodeApi, Buffer>();

/** The config the node runs: the last one applied live, else the one it installed with. */
export function activeConfig(n: NodeApi): Buffer | undefined {
  return active.get(n) ?? n.applied.at(-1)?.data;
}

export function configuredApplyConfiguration(n: NodeApi): Handler {
  return (call, cb) => {
    const req = call.request as { data: Buffer; mode: ApplyMode; dry_run?: boolean };
    if (rebooting.has(n) && REFUSES_WHILE_REBOOTING.has(n.profile.name)) {
      const details = 'configuration was already applied and node is rebooting, cannot apply more configuration changes until next reboot';
      return cb!(Object.assign(new Error(details), { code: grpc.status.FAILED_PRECONDITION, details }) as grpc.ServiceError);
    }
    let parsed: ParsedConfig;
    try {
      parsed = n.parse(req.data);
    } catch (err) {
      return cb!(invalid((err as Error).message));
    }
    if (!active.has(n) && n.applied.length) active.set(n, n.applied.at(-1)!.data);
    const running = active.get(n) ?? Buffer.alloc(0);
    const why = cannotApplyImmediately(running, req.data);
    let mode = req.mode;
    let details = 'Applied configuration with a reboot';
    let modeErr = '';
    if (mode === 'TRY' || mode === 'NO_REBOOT') {
      if (why) return cb!(invalid(why));
      details = 'Applied configuration without a reboot';
    } else if (mode === 'STAGED') {
      details = 'Staged configuration to be applied after the next reboot';
    } else if (mode === 'AUTO') {
      mode = why ? 'REBOOT' : 'NO_REBOOT';
      details = why ? 'Applied configuration with a reboot' : 'Applied configuration without a reboot';
      modeErr = why ? `: ${why}` : '';
    }
    const md = { hostname: n.opts.hostname, error: '' };
    if (req.dry_run) {
      const diff = unifiedDiff(encode(running), encode(req.data)) || 'No changes.';
      return cb!(null, { messages: [{ metadata: md, warnings: [], mode, mode_details: `Dry run summary:\n${details} (skipped in dry-run).\nConfig diff:\n\n${diff}` }] });
    }
    cb!(null, { messages: [{ metadata: md, warnings: [], mode, mode_details: details + modeErr }] });
    n.accept(req.data, req.mode, parsed, false);
    if (mode === 'NO_REBOOT' || mode === 'TRY') active.set(n, Buffer.from(req.data));
    if (mode === 'REBOOT') {
      // Persisted only: the running config stays active until the node is back from its reboot.
      rebooting.add(n);
      n.rebootInto(parsed, REBOOT_DOWN_MS, () => {
        rebooting.delete(n);
        active.set(n, Buffer.from(req.data));
      });
    }
  };
}

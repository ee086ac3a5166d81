// Whether a Kubernetes node is Ready, asked of the API server through the
// kubeconfig rackboot stores (DATA_DIR/kubeconfig, the admin kubeconfig
// Talos hands out: one cluster with certificate-authority-data and a user
// with client-certificate-data / client-key-data). GET /api/v1/nodes/NAME
// and the Node's status.conditions entry of type "Ready": status "True" is
// Ready; "False" or "Unknown" is not (k8s.io/api core/v1 NodeCondition).
// The Kubernetes node name is the Talos hostname, which is the inventory
// node name.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';

export interface KubeAccess { server: string; ca: Buffer; cert: Buffer; key: Buffer }

/** The current context's server and credentials; throws with what is missing. */
export function parseKubeconfig(text: string): KubeAccess {
  const doc = parse(text) as any;
  const ctxName = doc?.['current-context'];
  const ctx = (doc?.contexts ?? []).find((c: any) => c?.name === ctxName)?.context ?? doc?.contexts?.[0]?.context;
  const cluster = (doc?.clusters ?? []).find((c: any) => c?.name === ctx?.cluster)?.cluster ?? doc?.clusters?.[0]?.cluster;
  const user = (doc?.users ?? []).find((u: any) => u?.name === ctx?.user)?.user ?? doc?.users?.[0]?.user;
  const need = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !v) throw new Error(`kubeconfig has no ${what}`);
    return v;
  };
  return {
    server: need(cluster?.server, 'cluster server'),
    ca: Buffer.from(need(cluster?.['certificate-authority-data'], 'certificate-authority-data'), 'base64'),
    cert: Buffer.from(need(user?.['client-certificate-data'], 'client-certificate-data'), 'base64'),
    key: Buffer.from(need(user?.['client-key-data'], 'client-key-data'), 'base64'),
  };
}

function getJson(access: KubeAccess, path: string, timeoutMs: number): Promise<{ status: number; body: any }> {
  const url = new URL(path, access.server.endsWith('/') ? access.server : `${access.server}/`);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: access.ca, cert: access.cert, key: access.key, headers: { accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** undefined when the node is Ready; else why not (never throws). */
export async function kubeNodeNotReady(access: KubeAccess, name: string, timeoutMs = 10_000): Promise<string | undefined> {
  let res;
  try {
    res = await getJson(access, `api/v1/nodes/${encodeURIComponent(name)}`, timeoutMs);
  } catch (err) {
    return `Kubernetes API: ${(err as Error).message}`;
  }
  if (res.status === 404) return `Kubernetes has no node ${name}`;
  if (res.status !== 200) return `Kubernetes API answered ${res.status}${res.body?.message ? `: ${res.body.message}` : ''}`;
  const ready = (res.body?.status?.conditions ?? []).find((c: any) => c?.type === 'Ready');
  if (!ready) return `Kubernetes node ${name} reports no Ready condition`;
  if (ready.status === 'True') return undefined;
  return `Kubernetes node ${name} not Ready (${ready.status}${ready.reason ? `, ${ready.reason}` : ''}${ready.message ? `: ${ready.message}` : ''})`;
}

/** The check the upgrade rollout runs after each node: the kubeconfig file is read afresh each time (it is re-fetched after a reimage). */
export function storedKubeconfigCheck(file: string, timeoutMs?: number): (node: string) => Promise<string | undefined> {
  return async (node) => {
    let access: KubeAccess;
    try {
      access = parseKubeconfig(readFileSync(file, 'utf8'));
    } catch (err) {
      return `cannot use the kubeconfig ${file} (${(err as Error).message}); \`rackboot kubeconfig --fetch\` stores a fresh one`;
    }
    return kubeNodeNotReady(access, node, timeoutMs);
  };
}

// A small fake of the Kubernetes API server, over HTTPS with client
// certificates: GET /api/v1/nodes/NAME answers a v1 Node whose
// status.conditions carries the upstream field names (type "Ready",
// status "True"/"False"/"Unknown", reason, message; k8s.io/api core/v1),
// or a 404 Status for an unknown node. Nothing else is served.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import type { CertAndKey, TestPki } from './pki.js';

export interface FakeKubeApi {
  url: string;
  /** Node name → Ready condition status; absent: no such node. */
  nodes: Map<string, 'True' | 'False' | 'Unknown'>;
  /** Requests seen, as "GET /api/v1/nodes/NAME". */
  requests: string[];
  /** A kubeconfig for this server with the given client identity (as Talos's admin kubeconfig is shaped). */
  kubeconfig(client: CertAndKey): string;
  close(): Promise<void>;
}

export async function startFakeKubeApi(pki: TestPki, host = '127.0.0.1'): Promise<FakeKubeApi> {
  const serverCert = await pki.serverCert([host]);
  const nodes = new Map<string, 'True' | 'False' | 'Unknown'>();
  const requests: string[] = [];
  const server: Server = createServer({ key: serverCert.key, cert: serverCert.crt, ca: pki.osCa.crt, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const m = /^\/api\/v1\/nodes\/([^/?]+)$/.exec(req.url ?? '');
    const send = (code: number, body: object) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || !m) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' });
    const name = decodeURIComponent(m[1]!);
    const ready = nodes.get(name);
    if (!ready) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `nodes "${name}" not found`, details: { name, kind: 'nodes' } });
    send(200, {
      kind: 'Node', apiVersion: 'v1', metadata: { name },
      status: { conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory' },
        ready === 'True'
          ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }
          : { type: 'Ready', status: ready, reason: ready === 'False' ? 'KubeletNotReady' : 'NodeStatusUnknown', message: ready === 'False' ? 'container runtime network not ready' : 'Kubelet stopped posting node status.' },
      ] },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const url = `https://${host}:${(server.address() as AddressInfo).port}`;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    url, nodes, requests,
    kubeconfig: (client) => stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'admin@rack',
      clusters: [{ name: 'rack', cluster: { server: url, 'certificate-authority-data': b64(pki.osCa.crt) } }],
      users: [{ name: 'admin@rack', user: { 'client-certificate-data': b64(client.crt), 'client-key-data': b64(client.key) } }],
      contexts: [{ name: 'admin@rack', context: { cluster: 'rack', namespace: 'default', user: 'admin@rack' } }],
    }),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// Lab and test use only.
// MachineService/ImagePull on a configured fake node, as upstream's
// (internal/app/machined/internal/server/v1alpha1/v1alpha1_images.go
// ImagePull, v1.12.0): pulls the reference into the containerd namespace
// asked for, a reference already there is skipped, and a reference the
// registry does not have is NotFound at once. Allowed to os:admin and
// os:operator (internal/app/machined/pkg/system/services/machined.go rules,
// v1.12.0). The fake pulls nothing: it records each pull, with how many
// configs the node had applied by then, and refuses the references a test
// lists as missing.
import * as grpc from '@grpc/grpc-js';

type Handler = (call: any, cb?: grpc.sendUnaryData<unknown>) => void;

export interface FakeImagePulls {
  /** Each pull in order: namespace, reference, and the node's applied-config count at the time. */
  readonly pulls: { namespace: string; reference: string; appliedBefore: number }[];
  /** References the registry does not have. */
  readonly missing: Set<string>;
}

const states = new WeakMap<object, FakeImagePulls>();

export function fakeImagePulls(node: object): FakeImagePulls {
  let s = states.get(node);
  if (!s) states.set(node, (s = { pulls: [], missing: new Set() }));
  return s;
}

export const IMAGE_PULL_ROLES: Record<string, string[]> = { ImagePull: ['os:admin', 'os:operator'] };

export function imagePullHandlers(n: { readonly opts: { hostname: string }; readonly applied: unknown[] }): Record<string, Handler> {
  const st = fakeImagePulls(n);
  return {
    ImagePull: (call: { request: { namespace?: string; reference?: string } }, cb) => {
      const reference = call.request.reference ?? '';
      if (st.missing.has(reference)) {
        return cb!(Object.assign(new Error('error pulling image'), { code: grpc.status.NOT_FOUND, details: `error pulling image: ${reference}: not found` }) as grpc.ServiceError);
      }
      st.pulls.push({ namespace: String(call.request.namespace ?? ''), reference, appliedBefore: n.applied.length });
      cb!(null, { messages: [{ metadata: { hostname: n.opts.hostname, error: '' } }] });
    },
  };
}

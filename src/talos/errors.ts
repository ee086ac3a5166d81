// Typed failures of Talos API calls, so callers can tell "the node said no"
// (metadata.error, a gRPC status) from "we could not reach it" and from
// "this is not the machine we expected" (pin mismatch).
import { status as GrpcStatus } from '@grpc/grpc-js';

/** The call failed with a gRPC status (transport, deadline, Unimplemented, PermissionDenied, ...). */
export class TalosCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: GrpcStatus,
    readonly details: string,
  ) {
    super(`${method}: ${GrpcStatus[code] ?? code}: ${details}`);
    this.name = 'TalosCallError';
  }
}

/**
 * The call reached apid but a reply message carried `metadata.error`: the
 * request failed on that node and the rest of the message is undefined.
 */
export class TalosNodeError extends Error {
  constructor(
    readonly method: string,
    readonly hostname: string,
    readonly nodeMessage: string,
    readonly code: number | undefined,
  ) {
    super(`${method} on ${hostname || 'node'}: ${nodeMessage}`);
    this.name = 'TalosNodeError';
  }
}

/** The maintenance-mode server presented a key other than the pinned one. */
export class PinMismatchError extends Error {
  constructor(
    readonly endpoint: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${endpoint}: server key sha256 ${actual} does not match the pinned ${expected}`);
    this.name = 'PinMismatchError';
  }
}

/** The kubeconfig archive could not be read. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

/** The client was closed (daemon shutdown) while the call was in flight or waiting to retry. */
export class ClientClosedError extends Error {
  override name = 'ClientClosedError';
}

export function isCode(err: unknown, code: GrpcStatus): boolean {
  return err instanceof TalosCallError && err.code === code;
}

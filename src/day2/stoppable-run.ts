// What the Talos upgrade rollout (rollout.ts) and the Kubernetes roll
// (k8s-roll.ts) share: one conversation with a node at a time, and a stop
// from the daemon that ends a run as a crash would, writing nothing more.
// The store's persisted step is where the next start resumes.
import type { TalosClient } from '../talos/client.js';
import { withTalosClient, type ConnectTalos } from '../talos/endpoints.js';

/** Thrown out of a run when its owner stops it: nothing more is written, the rollout stays running for the next start. */
export class Stopped extends Error {
  override name = 'Stopped';
}

export interface NodeTalosDeps {
  connect: ConnectTalos;
  endpointOf: (node: string) => string | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export abstract class StoppableRun<D extends NodeTalosDeps> {
  private stopped = false;
  /** Aborted by stop(): a long call in flight (the LifecycleService stream) ends now, not at its deadline. */
  protected readonly stopSignal: AbortSignal;
  private readonly stopper = new AbortController();

  constructor(protected readonly deps: D) {
    this.stopSignal = this.stopper.signal;
  }

  /** Stops a run at its next wait or call, as a crash would, recording nothing (the daemon is closing). */
  stop(): void {
    this.stopped = true;
    this.stopper.abort();
  }

  /** Throws Stopped once stop() was called: a failure seen after it is the stop's doing, not the node's. */
  protected throwIfStopped(): void {
    if (this.stopped) throw new Stopped();
  }

  protected async wait(ms: number): Promise<void> {
    this.throwIfStopped();
    await sleep(ms);
    this.throwIfStopped();
  }

  protected ask<T>(node: string, fn: (c: TalosClient) => Promise<T>): Promise<T> {
    return withTalosClient(this.deps.connect, this.deps.endpointOf(node), `no address known for ${node}`, fn);
  }
}

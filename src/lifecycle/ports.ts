// What the lifecycle needs from services built elsewhere. The daemon injects
// the real ones (the Talos API client, the DHCP and TFTP services); tests
// inject fakes.

/** Sends Talos's Reset (wipe and reboot) to a node over its mTLS API. */
export interface NodeResetter {
  reset(nodeName: string): Promise<void>;
}

/** A service's counters for /metrics, by Prometheus metric name (without the rackboot_ prefix). */
export interface MetricsSource {
  metrics(): Record<string, number>;
}

// Loads rackboot's Talos API subset at runtime. The .proto files live in
// src/talos/proto/; this module sits two levels below the repo root both as
// src/talos/*.ts (vitest) and as dist/talos/*.js (built), so one relative
// URL finds them from either place.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('../../src/talos/proto/', import.meta.url));

type ServiceCtor = grpc.ServiceClientConstructor;

export interface TalosApi {
  MachineService: ServiceCtor;
  StorageService: ServiceCtor;
  LifecycleService: ServiceCtor;
  /** The COSI state API (resource.proto): `talosctl get`'s read calls. */
  ResourceState: ServiceCtor;
}

let cached: TalosApi | undefined;

export function talosApi(): TalosApi {
  if (cached) return cached;
  const def = protoLoader.loadSync(['machine.proto', 'storage.proto', 'lifecycle.proto', 'resource.proto'], {
    includeDirs: [PROTO_DIR],
    // Field names as written in the .proto (snake_case), enums as names,
    // 64-bit integers as strings, defaults filled in: replies always have
    // every field, which keeps the checks below simple.
    keepCase: true,
    enums: String,
    longs: String,
    defaults: true,
    arrays: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    machine: { MachineService: ServiceCtor; LifecycleService: ServiceCtor };
    storage: { StorageService: ServiceCtor };
    cosi: { resource: { State: ServiceCtor } };
  };
  cached = {
    MachineService: pkg.machine.MachineService, StorageService: pkg.storage.StorageService,
    LifecycleService: pkg.machine.LifecycleService, ResourceState: pkg.cosi.resource.State,
  };
  return cached;
}

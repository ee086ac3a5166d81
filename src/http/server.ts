// The HTTP services: two thin shells that register one module per endpoint.
// The boot plane (./boot) serves the machines; the admin plane (./admin)
// serves the operator. Both go through the same per-route access guard.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { HttpContext } from './context.js';
import { registerBootIpxe } from './boot/boot-ipxe.js';
import { registerMachineIpxe } from './boot/machine-ipxe.js';
import { registerAssets } from './boot/assets.js';
import { registerUki } from './boot/uki.js';
import { registerMachineConfig } from './boot/machine-config.js';
import { registerIpxeBinaries } from './boot/ipxe-binaries.js';
import { registerRegistry } from './boot/registry.js';
import { registerNodesApi } from './admin/api-nodes.js';
import { registerInventoryApi } from './admin/api-inventory.js';
import { registerLifecycleApi } from './admin/api-lifecycle.js';
import { registerRolloutApi } from './admin/rollout.js';
import { registerPowerApi } from './admin/api-power.js';
import { registerDay2Api } from './admin/api-day2.js';
import { countResponses, registerMetrics } from './admin/metrics.js';
import { adminAuth, registerWeb } from './admin/page-routes.js';
import { installAccessGuard, PUBLIC } from './access.js';
import type { FailureBudget } from './admin/failure-budget.js';
import { registerStream } from './admin/stream.js';
import { isStoreWriteError, STORE_UNWRITABLE } from '../store/errors.js';

/** How long a client may hold a connection; tests shorten them. */
export interface HttpLimits {
  /** Socket idle time before it is closed. */
  connectionTimeoutMs: number;
  /** Whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** How often Node checks requestTimeout; a request can overrun by up to this much. */
  checkIntervalMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  connectionTimeoutMs: 60_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  // Node's default is 30 s, which lets a trickling client hold a socket for
  // requestTimeout plus up to 30 s more.
  checkIntervalMs: 2_000,
};

/** The admin listener's certificate and key (PEM); without them it is plain HTTP (in-process tests only). */
export interface AdminTls {
  cert: string;
  key: string;
}

function baseServer(ctx: HttpContext, svc: string, limits: HttpLimits, tls?: AdminTls): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.log.child({ svc }) as FastifyBaseLogger,
    // Slow or stalled clients must not pin a connection forever (slowloris).
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: { connectionsCheckingInterval: limits.checkIntervalMs },
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: 500 },
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (isStoreWriteError(err)) {
      // Not the client's fault and not a bug: the operator has to free space or fix the mount.
      req.log.error({ err }, STORE_UNWRITABLE);
      return reply.code(503).header('retry-after', '30').send({ message: `${STORE_UNWRITABLE}; try again later` });
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    reply.code(status).send({ message: status >= 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }));
  countResponses(app, ctx);
  return app;
}

/**
 * The boot plane, plain HTTP on `http.listen` because firmware and stock
 * iPXE speak nothing else: only public routes, and the guard refuses any
 * other route that might ever be registered here.
 */
export function buildBootServer(ctx: HttpContext, limits: HttpLimits = DEFAULT_HTTP_LIMITS): FastifyInstance {
  const app = baseServer(ctx, 'http', limits);
  installAccessGuard(app);
  app.get('/healthz', PUBLIC, async () => ({ ok: true }));
  registerBootIpxe(app, ctx);
  registerMachineIpxe(app, ctx);
  registerAssets(app, ctx);
  registerUki(app, ctx);
  registerMachineConfig(app, ctx);
  registerIpxeBinaries(app, ctx);
  registerRegistry(app, ctx);
  return app;
}

/** The admin plane on `http.adminListen`, over TLS: the page, the JSON API, /metrics. */
export function buildAdminServer(ctx: HttpContext, opts: { tls?: AdminTls; limits?: HttpLimits; budget?: FailureBudget } = {}): FastifyInstance {
  const app = baseServer(ctx, 'admin', opts.limits ?? DEFAULT_HTTP_LIMITS, opts.tls);
  const auth = adminAuth(ctx, { secureCookies: opts.tls !== undefined, budget: opts.budget });
  installAccessGuard(app, auth);
  app.get('/healthz', PUBLIC, async () => ({ ok: true }));
  registerWeb(app, ctx, auth);
  registerMetrics(app, ctx);
  registerNodesApi(app, ctx);
  registerInventoryApi(app, ctx);
  registerLifecycleApi(app, ctx);
  registerPowerApi(app, ctx);
  registerRolloutApi(app, ctx); // day2-rollout
  registerDay2Api(app, ctx); // day2-config
  registerStream(app, ctx);
  return app;
}

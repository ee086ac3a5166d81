// /v2/: a read-only OCI distribution endpoint over the image cache, so
// nodes on an air-gapped rack pull the installer and cluster images from
// the appliance (Talos registry mirrors point here). Anonymous, like the
// rest of the boot plane: the images are public ones, and nodes pull before
// they hold any credential. Quotes are from the OCI distribution spec
// (opencontainers/distribution-spec, spec.md).
import { readFileSync, statSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpContext } from '../context.js';
import { PUBLIC } from '../access.js';
import { parseRange } from './assets.js';
import { FileBodySender } from './file-body.js';
import { ImageStore } from '../../registry/image-store.js';
import { isDigest, isRepositoryName, isTag } from '../../registry/reference.js';

const IDLE_BUFFERS = 4 << 20;

// "Actionable failure conditions ... are reported as part of 4xx responses,
// in a json response body": {"errors":[{"code","message","detail"}]}.
function fail(reply: FastifyReply, status: number, code: string, message: string, detail?: unknown) {
  return reply.code(status).type('application/json').send({ errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] });
}

/**
 * The repository a request names. containerd, asked to use a mirror for a
 * registry, adds `?ns=<registry host>` and keeps the path of the original
 * name (docker.io/library/busybox arrives as /v2/library/busybox/...?ns=docker.io),
 * so the host is put back in front; a client that talks to us directly
 * (skopeo, ctr without a mirror) names the host in the path itself.
 */
function repositoryName(req: FastifyRequest, path: string): string {
  const ns = (req.query as Record<string, unknown>).ns;
  return typeof ns === 'string' && ns !== '' ? `${ns}/${path}` : path;
}

export function registerRegistry(app: FastifyInstance, ctx: HttpContext): void {
  const store = new ImageStore(ctx.settings.dataDir);
  const body = new FileBodySender(IDLE_BUFFERS);
  const stream = (reply: FastifyReply, file: string, start: number, end: number) => body.send(reply, file, start, end, 'registry blob');

  // "If a 200 OK response is returned, the registry implements the V2(.1)
  // registry API"; "the Docker-Distribution-API-Version header SHOULD be set
  // to registry/2.0".
  const base = async (_req: FastifyRequest, reply: FastifyReply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0').type('application/json');
    return {};
  };
  app.get('/v2/', PUBLIC, base);
  app.get('/v2', PUBLIC, base);

  app.get('/v2/*', PUBLIC, async (req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    const tail = (req.params as { '*': string })['*'];
    const tags = /^(.+)\/tags\/list$/.exec(tail);
    const m = /^(.+)\/(manifests|blobs)\/([^/]+)$/.exec(tail);
    if (!m && !tags) return fail(reply, 404, 'UNSUPPORTED', 'this registry serves only manifests, blobs and tag lists');
    const name = repositoryName(req, (tags ?? m)![1]!);
    if (!isRepositoryName(name)) return fail(reply, 400, 'NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`);
    const repo = store.catalogue().repositories[name];
    if (!repo) return fail(reply, 404, 'NAME_UNKNOWN', `repository ${name} is not in this appliance's image cache`, { name });

    if (tags) return reply.type('application/json').send({ name, tags: Object.keys(repo.tags).sort() });

    const [, , kind, reference] = m!;
    if (kind === 'manifests') {
      if (!isDigest(reference!) && !isTag(reference!)) return fail(reply, 400, 'MANIFEST_INVALID', `invalid tag or digest ${JSON.stringify(reference)}`);
      const found = store.manifest(name, reference!);
      if (!found) return fail(reply, 404, 'MANIFEST_UNKNOWN', `manifest ${name}:${reference} is not in this appliance's image cache`, { name, reference });
      // "In a successful response, the Content-Type header will indicate which
      // manifest type is being returned." We serve the manifest exactly as
      // imported (its bytes are its digest), whatever the Accept header asks:
      // every client we serve (containerd, skopeo) accepts all four types.
      const body = readFileSync(store.blobPath(found.digest));
      return reply
        .type(found.mediaType)
        .header('docker-content-digest', found.digest)
        .header('etag', `"${found.digest}"`)
        .send(body);
    }

    if (!isDigest(reference!)) return fail(reply, 400, 'DIGEST_INVALID', `invalid digest ${JSON.stringify(reference)} (only sha256 is held)`);
    // "Access to a layer will be gated by the name of the repository but is
    // identified uniquely in the registry by digest."
    if (!store.servable(name, reference!)) return fail(reply, 404, 'BLOB_UNKNOWN', `blob ${reference} is not in repository ${name}`, { digest: reference });
    const file = store.blobPath(reference!);
    const size = statSync(file).size;
    // "To allow for incremental downloads, Range requests SHOULD be supported";
    // a blob never changes, so it may be cached for good.
    reply
      .header('accept-ranges', 'bytes')
      .header('docker-content-digest', reference)
      .header('etag', `"${reference}"`)
      .header('cache-control', 'max-age=31536000, immutable')
      .type('application/octet-stream');
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${size}`).send();
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1);
      return stream(reply, file, range.start, range.end);
    }
    reply.header('content-length', size);
    return stream(reply, file, 0, size - 1);
  });

  // Read-only: pushes and deletes are refused in the spec's error format
  // rather than falling through to a bare 404 a client would misread.
  app.route({
    method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: '/v2/*', ...PUBLIC,
    handler: async (_req, reply) => fail(reply.code(405).header('allow', 'GET, HEAD'), 405, 'UNSUPPORTED', 'this registry is a read-only mirror; import images with rackboot images import'),
  });
}

# rackboot in a container. DHCP and TFTP need the host's network:
#   docker build -t rackboot .
#   docker run --rm --network host --cap-add NET_BIND_SERVICE --cap-add NET_RAW \
#     -v /etc/rackboot:/etc/rackboot:ro -v rackboot-data:/var/lib/rackboot rackboot
# Put rackboot.yaml and cluster.yaml in /etc/rackboot on the host.

FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY native ./native
COPY inventory ./inventory
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ipxe xz-utils zstd \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/rackboot --shell /usr/sbin/nologin rackboot \
 && mkdir -p /opt/rackboot/ipxe /var/lib/rackboot /etc/rackboot \
 && cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi /boot/ipxe.efi /opt/rackboot/ipxe/ \
 && chown rackboot:rackboot /var/lib/rackboot && chmod 0700 /var/lib/rackboot
WORKDIR /opt/rackboot
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The DHCP interface binding (SO_BINDTODEVICE) addon, at the path the code loads it from.
COPY --from=build /src/native/bindtodevice/build/Release/bindtodevice.node ./native/bindtodevice/build/Release/bindtodevice.node
COPY --from=build /src/src/talos/proto ./src/talos/proto
COPY --from=build /src/package.json ./
COPY inventory ./inventory
COPY systemd/rackboot.yaml /etc/rackboot/rackboot.yaml
USER rackboot
VOLUME ["/var/lib/rackboot"]
EXPOSE 67/udp 69/udp 4011/udp 8080/tcp 8443/tcp
# Node flags and environment as in systemd/rackboot.service (test/packaging checks they match).
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "--max-semi-space-size=16", "--no-memory-reducer", "/opt/rackboot/dist/cli.js"]
CMD ["serve", "--config", "/etc/rackboot/rackboot.yaml"]

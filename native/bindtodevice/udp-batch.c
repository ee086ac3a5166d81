// Batched UDP sends for TFTP transfers (src/tftp/transfer-socket.ts).
//
// openConnectedUdp(localAddr, remoteAddr, remotePort) -> fd: a non-blocking
// UDP socket bound to localAddr on an ephemeral port and connected to the
// client (its TID, RFC 1350 section 4). Node adopts it with bind({ fd }).
//
// sendBlocks(fd, data, blksize, from, to) -> DATA packets sent, or -errno
// when none was: TFTP DATA blocks from..to (absolute numbers, 1-based; the
// wire number is taken modulo 65536) of `data`, all in one sendmmsg(2). Each
// packet is a 4-byte header built here plus an iovec into `data`, so a
// window costs one call into the addon, one system call and no allocation.
//
// sendDatagram(fd, buffer) -> bytes sent, or -errno.
//
// Errors come back as negative numbers, not exceptions: ECONNREFUSED (the
// client's port closed, reported by ICMP) and EAGAIN (send buffer full) are
// expected on this path and the caller decides what they mean.
#define _GNU_SOURCE 1
#include <node_api.h>
#include "napi-helpers.h"
#include <errno.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "udp-batch.h"

// Packets per sendmmsg call; a larger window is sent in several calls.
#define BATCH 64
#define TFTP_DATA 3

static int numeric_addr(const char *host, const char *port, struct addrinfo **out) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  return getaddrinfo(host, port, &hints, out);
}

static napi_value open_connected_udp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char local[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], remote[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t llen = 0, rlen = 0;
  uint32_t rport = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_string_utf8(env, argv[0], local, sizeof local, &llen) != napi_ok || llen == 0 ||
      napi_get_value_string_utf8(env, argv[1], remote, sizeof remote, &rlen) != napi_ok || rlen == 0 ||
      napi_get_value_uint32(env, argv[2], &rport) != napi_ok || rport == 0 || rport > 65535) {
    napi_throw_type_error(env, NULL, "openConnectedUdp(localAddr, remoteAddr, remotePort 1..65535)");
    return NULL;
  }
  char portText[8];
  snprintf(portText, sizeof portText, "%u", rport);
  struct addrinfo *l = NULL, *r = NULL;
  if (numeric_addr(local, "0", &l) != 0 || numeric_addr(remote, portText, &r) != 0 || l->ai_family != r->ai_family) {
    if (l) freeaddrinfo(l);
    if (r) freeaddrinfo(r);
    napi_throw_type_error(env, NULL, "openConnectedUdp: addresses must be numeric and of one family");
    return NULL;
  }
  int fd = socket(l->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int err = fd < 0 ? errno : 0;
  if (!err && bind(fd, l->ai_addr, l->ai_addrlen) < 0) err = errno;
  if (!err && connect(fd, r->ai_addr, r->ai_addrlen) < 0) err = errno;
  freeaddrinfo(l);
  freeaddrinfo(r);
  if (err) {
    if (fd >= 0) close(fd);
    return throw_errno(env, "openConnectedUdp", err);
  }
  return number(env, fd);
}

static napi_value send_blocks(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd = -1;
  uint32_t blksize = 0;
  int64_t from = 0, to = 0;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || !uint8_bytes(env, argv[1], &data, &length) ||
      napi_get_value_uint32(env, argv[2], &blksize) != napi_ok || blksize == 0 ||
      napi_get_value_int64(env, argv[3], &from) != napi_ok || napi_get_value_int64(env, argv[4], &to) != napi_ok ||
      from < 1 || to < from || (uint64_t)(from - 1) * blksize > length) {
    napi_throw_type_error(env, NULL, "sendBlocks(fd, Uint8Array, blksize > 0, from >= 1, to >= from), from inside the data");
    return NULL;
  }
  return number(env, tftp_send_window(fd, data, length, blksize, from, to));
}

int64_t tftp_send_window(int fd, const unsigned char *data, size_t length, uint32_t blksize, int64_t from, int64_t to) {
  unsigned char headers[BATCH][4];
  struct iovec iov[BATCH][2];
  struct mmsghdr msgs[BATCH];
  int64_t sent = 0;
  for (int64_t b = from; b <= to;) {
    unsigned n = 0;
    for (; n < BATCH && b <= to; n++, b++) {
      uint64_t start = (uint64_t)(b - 1) * blksize;
      size_t len = start >= length ? 0 : (length - start < blksize ? length - start : blksize);
      headers[n][0] = 0;
      headers[n][1] = TFTP_DATA;
      headers[n][2] = (unsigned char)((b >> 8) & 0xff);
      headers[n][3] = (unsigned char)(b & 0xff);
      iov[n][0].iov_base = headers[n];
      iov[n][0].iov_len = 4;
      iov[n][1].iov_base = (unsigned char *)data + (start >= length ? length : start);
      iov[n][1].iov_len = len;
      memset(&msgs[n], 0, sizeof msgs[n]);
      msgs[n].msg_hdr.msg_iov = iov[n];
      msgs[n].msg_hdr.msg_iovlen = len ? 2 : 1;
    }
    int r;
    do r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0) return sent ? sent : -errno;
    sent += r;
    if ((unsigned)r < n) break;
  }
  return sent;
}

static napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || !uint8_bytes(env, argv[1], &data, &length)) {
    napi_throw_type_error(env, NULL, "sendDatagram(fd, Uint8Array)");
    return NULL;
  }
  ssize_t r;
  do r = send(fd, data, length, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return number(env, r < 0 ? -errno : r);
}

void register_udp_batch(napi_env env, napi_value exports) {
  export_function(env, exports, "openConnectedUdp", open_connected_udp);
  export_function(env, exports, "sendBlocks", send_blocks);
  export_function(env, exports, "sendDatagram", send_datagram);
}

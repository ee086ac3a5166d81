// openUdp4(ifname, port) -> fd: a UDP socket bound to 0.0.0.0:port that only
// sees, and only sends on, one interface (SO_BINDTODEVICE, Linux socket(7)).
// openIcmp6(ifname) -> {fd, ifindex}, sendIcmp6, recvIcmp6, closeFd: a raw
// ICMPv6 socket on one interface that receives only Router Solicitations,
// for the router-advertisement responder (RFC 4861 section 6.2).
// Node's dgram cannot set SO_BINDTODEVICE or read IP_PKTINFO, and binding to
// the interface address would miss the broadcasts a DHCP server must hear.
// The descriptor is handed to dgram with bind({ fd }); Node owns it after.
#include <node_api.h>
#include "napi-helpers.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "memory.h"
#include "udp-batch.h"
#include "sendfile.h"

/** Receive buffer asked for each openUdp4 socket (the kernel doubles it for bookkeeping). */
#define UDP4_RCVBUF (4 << 20)

static napi_value open_udp4(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "openUdp4(ifname, port)");
    return NULL;
  }
  char ifname[IFNAMSIZ + 1];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "ifname must be a non-empty interface name shorter than IFNAMSIZ");
    return NULL;
  }
  uint32_t port = 0;
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) {
    napi_throw_type_error(env, NULL, "port must be 0..65535");
    return NULL;
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  // SO_REUSEADDR: another socket may hold the same port on another interface.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) { int e = errno; close(fd); return throw_errno(env, "SO_REUSEADDR", e); }
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) { int e = errno; close(fd); return throw_errno(env, "SO_BROADCAST", e); }
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(len + 1)) < 0) {
    int e = errno; close(fd); return throw_errno(env, "SO_BINDTODEVICE", e);
  }
  // A receive queue that outlasts a stalled event loop (a GC pause, a WAL
  // checkpoint): the default (net.core.rmem_default, 208 KiB) holds about
  // 100 DHCP datagrams, and perfdhcp at 1000/s overflowed it (RcvbufErrors).
  // SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; without it,
  // SO_RCVBUF gets as much as rmem_max allows. Neither failing is fatal.
  int rcvbuf = UDP4_RCVBUF;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { int e = errno; close(fd); return throw_errno(env, "bind", e); }

  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

// For functions whose only argument is a file descriptor: throws a TypeError
// naming `usage` and returns 0 when it is missing or not an integer.
static int get_fd_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !get_int(env, argv[0], fd)) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

static napi_value open_icmp6(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char ifname[IFNAMSIZ + 1];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "openIcmp6(ifname)");
    return NULL;
  }
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return throw_errno(env, "if_nametoindex", errno);
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, "socket(ICMPv6)", errno);
  int hops = 255, off = 0;
  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
  struct ipv6_mreq all_routers;
  memset(&all_routers, 0, sizeof all_routers);
  inet_pton(AF_INET6, "ff02::2", &all_routers.ipv6mr_multiaddr);
  all_routers.ipv6mr_interface = ifindex;
  // Neighbor Discovery packets must leave with hop limit 255 (RFC 4861 section 6.1.2).
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(len + 1)) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off) < 0 ||
      setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &all_routers, sizeof all_routers) < 0) {
    int e = errno; close(fd); return throw_errno(env, "ICMPv6 socket options", e);
  }
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, result, "fd", v);
  napi_create_uint32(env, ifindex, &v);
  napi_set_named_property(env, result, "ifindex", v);
  return result;
}

// sendIcmp6(fd, ifindex, dst, buffer) -> bytes sent. The kernel fills in the checksum.
static napi_value send_icmp6(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd = -1, ifindex = 0;
  char dst[INET6_ADDRSTRLEN + 1];
  size_t dlen = 0;
  void *data = NULL;
  size_t size = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || !get_int(env, argv[0], &fd) ||
      !get_int(env, argv[1], &ifindex) || napi_get_value_string_utf8(env, argv[2], dst, sizeof dst, &dlen) != napi_ok ||
      napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[3], &data, &size) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendIcmp6(fd, ifindex, dst, buffer)");
    return NULL;
  }
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  to.sin6_scope_id = (uint32_t)ifindex;
  if (inet_pton(AF_INET6, dst, &to.sin6_addr) != 1) {
    napi_throw_type_error(env, NULL, "dst must be an IPv6 address");
    return NULL;
  }
  ssize_t n = sendto(fd, data, size, 0, (struct sockaddr *)&to, sizeof to);
  if (n < 0) return throw_errno(env, "sendto(ICMPv6)", errno);
  napi_value result;
  napi_create_int32(env, (int32_t)n, &result);
  return result;
}

// recvIcmp6(fd) -> {data, from} or null when nothing is waiting (the socket is non-blocking).
static napi_value recv_icmp6(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (!get_fd_arg(env, info, "recvIcmp6(fd)", &fd)) return NULL;
  unsigned char buf[1500];
  struct sockaddr_in6 from;
  socklen_t flen = sizeof from;
  ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
  napi_value result;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &result);
      return result;
    }
    return throw_errno(env, "recvfrom(ICMPv6)", errno);
  }
  char addr[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &from.sin6_addr, addr, sizeof addr);
  napi_value data, src;
  void *copy = NULL;
  napi_create_buffer_copy(env, (size_t)n, buf, &copy, &data);
  napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &src);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "data", data);
  napi_set_named_property(env, result, "from", src);
  return result;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (!get_fd_arg(env, info, "closeFd(fd)", &fd)) return NULL;
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}


void register_tcp_user_timeout(napi_env env, napi_value exports); /* tcp_user_timeout.c */
void register_arp(napi_env env, napi_value exports);  /* arp.c */
void register_tftp_acks(napi_env env, napi_value exports); /* tftp-acks.c */

static napi_value init(napi_env env, napi_value exports) {
  export_function(env, exports, "openUdp4", open_udp4);
  export_function(env, exports, "openIcmp6", open_icmp6);
  export_function(env, exports, "sendIcmp6", send_icmp6);
  export_function(env, exports, "recvIcmp6", recv_icmp6);
  export_function(env, exports, "closeFd", close_fd);
  register_tcp_user_timeout(env, exports);
  register_arp(env, exports);
  register_udp_batch(env, exports);
  register_memory(env, exports);
  register_sendfile(env, exports);
  register_tftp_acks(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

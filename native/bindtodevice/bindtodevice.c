// openUdp4(ifname, port) -> fd: a UDP socket bound to 0.0.0.0:port that only
// sees, and only sends on, one interface (SO_BINDTODEVICE, Linux socket(7)).
// Node's dgram cannot set SO_BINDTODEVICE or read IP_PKTINFO, and binding to
// the interface address would miss the broadcasts a DHCP server must hear.
// The descriptor is handed to dgram with bind({ fd }); Node owns it after.
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

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
  if (fd < 0) return fail(env, "socket", errno);
  int one = 1;
  // SO_REUSEADDR: another socket may hold the same port on another interface.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) { int e = errno; close(fd); return fail(env, "SO_REUSEADDR", e); }
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) { int e = errno; close(fd); return fail(env, "SO_BROADCAST", e); }
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(len + 1)) < 0) {
    int e = errno; close(fd); return fail(env, "SO_BINDTODEVICE", e);
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { int e = errno; close(fd); return fail(env, "bind", e); }

  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "openUdp4", NAPI_AUTO_LENGTH, open_udp4, NULL, &fn);
  napi_set_named_property(env, exports, "openUdp4", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

// TCP_USER_TIMEOUT on a TCP socket Node made (the PostgreSQL client's
// connection): how long sent data may stay unacknowledged before the kernel
// ends the connection (tcp(7)). Node has no API for it; without it a query
// sent into a silently dropped path waits for the kernel's retransmissions
// (about 15 minutes) before anyone notices.
#include <node_api.h>
#include "napi-helpers.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static napi_value set_tcp_user_timeout(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1, ms = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &ms) != napi_ok || fd < 0 || ms < 0) {
    napi_throw_type_error(env, NULL, "usage: setTcpUserTimeout(fd, ms)");
    return NULL;
  }
  unsigned int value = (unsigned int)ms;
  if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &value, sizeof value) < 0) return throw_errno(env, "setsockopt TCP_USER_TIMEOUT", errno);
  return NULL;
}

void register_tcp_user_timeout(napi_env env, napi_value exports) {
  export_function(env, exports, "setTcpUserTimeout", set_tcp_user_timeout);
}

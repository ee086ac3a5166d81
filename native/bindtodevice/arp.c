// setArp(fd, ifname, ipv4, mac): puts "ipv4 is at mac" into the kernel's
// neighbour table for one interface (SIOCSARP, Linux arp(7)), so a DHCP
// server can unicast an OFFER or ACK to a client that has no address yet
// and did not ask for broadcast (RFC 2131 section 4.1). The entry is an
// ordinary complete one (ATF_COM, not ATF_PERM): the kernel ages it out.
// fd is any AF_INET socket (the DHCP socket); ioctl needs CAP_NET_ADMIN.
#include <node_api.h>
#include "napi-helpers.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static napi_value set_arp(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "setArp(fd, ifname, ipv4, mac)");
    return NULL;
  }
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "fd must be a socket descriptor");
    return NULL;
  }
  char ifname[IFNAMSIZ + 1];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "ifname must be a non-empty interface name shorter than IFNAMSIZ");
    return NULL;
  }
  char ip[INET_ADDRSTRLEN + 1];
  struct arpreq req;
  memset(&req, 0, sizeof req);
  struct sockaddr_in *pa = (struct sockaddr_in *)&req.arp_pa;
  pa->sin_family = AF_INET;
  if (napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &len) != napi_ok || inet_pton(AF_INET, ip, &pa->sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "ipv4 must be a dotted-quad IPv4 address");
    return NULL;
  }
  void *mac = NULL;
  size_t maclen = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[3], &mac, &maclen) != napi_ok || maclen != 6) {
    napi_throw_type_error(env, NULL, "mac must be a 6-byte Buffer");
    return NULL;
  }
  req.arp_ha.sa_family = ARPHRD_ETHER;
  memcpy(req.arp_ha.sa_data, mac, 6);
  req.arp_flags = ATF_COM;
  memcpy(req.arp_dev, ifname, strlen(ifname));  // shorter than IFNAMSIZ, checked above; the rest is zero
  if (ioctl(fd, SIOCSARP, &req) < 0) return throw_errno(env, "SIOCSARP", errno);
  return NULL;
}

void register_arp(napi_env env, napi_value exports) {
  export_function(env, exports, "setArp", set_arp);
}

// setArp(fd, ifname, ipv4, mac): puts "ipv4 is at mac" into the kernel's
// neighbour table for one interface (SIOCSARP, Linux arp(7)), so a DHCP
// server can unicast an OFFER or ACK to a client that has no address yet
// and did not ask for broadcast (RFC 2131 section 4.1). The entry is an
// ordinary complete one (ATF_COM, not ATF_PERM): the kernel ages it out.
// fd is any AF_INET socket (the DHCP socket); ioctl needs CAP_NET_ADMIN.
//
// getArp(ifname, ipv4) -> "aa:bb:cc:dd:ee:ff" | null: the MAC of the complete
// entry for ipv4 on ifname (SIOCGARP), the one line of /proc/net/arp the
// boot-access check needs, without reading and parsing the whole table per
// request (a rack booting at once makes the table as long as the rack).
// null when there is no entry, it is not resolved (the same ATF_COM test as
// the table's Flags column), or the interface does not exist. It reads the
// kernel's state at each call: nothing is cached, so a moved address is seen
// at once. Needs no capability.
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
#include <unistd.h>

// Fills `req` with the interface name and IPv4 address from JavaScript; false (and a thrown TypeError) if either is malformed.
static bool arp_request(napi_env env, napi_value ifname_value, napi_value ip_value, struct arpreq *req) {
  char ifname[IFNAMSIZ + 1];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, ifname_value, ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "ifname must be a non-empty interface name shorter than IFNAMSIZ");
    return false;
  }
  char ip[INET_ADDRSTRLEN + 1];
  memset(req, 0, sizeof *req);
  struct sockaddr_in *pa = (struct sockaddr_in *)&req->arp_pa;
  pa->sin_family = AF_INET;
  if (napi_get_value_string_utf8(env, ip_value, ip, sizeof ip, &len) != napi_ok || inet_pton(AF_INET, ip, &pa->sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "ipv4 must be a dotted-quad IPv4 address");
    return false;
  }
  memcpy(req->arp_dev, ifname, strlen(ifname));  // shorter than IFNAMSIZ, checked above; the rest is zero
  return true;
}

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
  struct arpreq req;
  if (!arp_request(env, argv[1], argv[2], &req)) return NULL;
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
  if (ioctl(fd, SIOCSARP, &req) < 0) return throw_errno(env, "SIOCSARP", errno);
  return NULL;
}


// One socket for every lookup: SIOCGARP needs an AF_INET socket of the
// namespace to ask, and the daemon stays in its own.
static int lookup_socket = -1;

static napi_value get_arp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "getArp(ifname, ipv4)");
    return NULL;
  }
  struct arpreq req;
  if (!arp_request(env, argv[0], argv[1], &req)) return NULL;
  if (lookup_socket < 0) {
    lookup_socket = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (lookup_socket < 0) return throw_errno(env, "getArp: socket", errno);
  }
  napi_value out;
  if (ioctl(lookup_socket, SIOCGARP, &req) < 0) {
    if (errno != ENXIO && errno != ENODEV) return throw_errno(env, "SIOCGARP", errno);
    napi_get_null(env, &out);
    return out;
  }
  const unsigned char *ha = (const unsigned char *)req.arp_ha.sa_data;
  bool zero = !(ha[0] | ha[1] | ha[2] | ha[3] | ha[4] | ha[5]);
  if (!(req.arp_flags & ATF_COM) || zero) {
    napi_get_null(env, &out);
    return out;
  }
  char mac[18];
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", ha[0], ha[1], ha[2], ha[3], ha[4], ha[5]);
  napi_create_string_utf8(env, mac, NAPI_AUTO_LENGTH, &out);
  return out;
}

void register_arp(napi_env env, napi_value exports) {
  export_function(env, exports, "setArp", set_arp);
  export_function(env, exports, "getArp", get_arp);
}

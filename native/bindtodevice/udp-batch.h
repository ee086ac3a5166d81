// Batched UDP sends for TFTP (udp-batch.c).
#pragma once
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

void register_udp_batch(napi_env env, napi_value exports);

/**
 * TFTP DATA blocks from..to (absolute, 1-based) of data, cut at blksize, in
 * sendmmsg calls on a connected socket: the number of packets sent, or -errno
 * when none was.
 */
int64_t tftp_send_window(int fd, const unsigned char *data, size_t length, uint32_t blksize, int64_t from, int64_t to);

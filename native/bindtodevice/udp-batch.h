// Batched UDP sends for TFTP (udp-batch.c).
#pragma once
#include <node_api.h>

void register_udp_batch(napi_env env, napi_value exports);

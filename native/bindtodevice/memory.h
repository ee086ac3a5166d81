// Giving freed malloc memory back to the kernel (memory.c).
#pragma once
#include <node_api.h>

void register_memory(napi_env env, napi_value exports);

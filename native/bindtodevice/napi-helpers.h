// What every file of the addon does at its JavaScript boundary: report a
// failed system call as an Error naming what failed and why (strerror), and
// put a function on the exports object, return a number, read a Uint8Array.
#ifndef RACKBOOT_NAPI_HELPERS_H
#define RACKBOOT_NAPI_HELPERS_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static inline void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static inline napi_value number(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

/** The bytes behind a Uint8Array (anything else: false). */
static inline bool uint8_bytes(napi_env env, napi_value value, void **data, size_t *length) {
  bool typed = false;
  napi_typedarray_type kind;
  napi_value ab;
  size_t offset = 0;
  return napi_is_typedarray(env, value, &typed) == napi_ok && typed &&
         napi_get_typedarray_info(env, value, &kind, length, data, &ab, &offset) == napi_ok && kind == napi_uint8_array;
}

#endif

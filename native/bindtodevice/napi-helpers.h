// What every file of the addon does at its JavaScript boundary: report a
// failed system call as an Error naming what failed and why (strerror), and
// put a function on the exports object.
#ifndef RACKBOOT_NAPI_HELPERS_H
#define RACKBOOT_NAPI_HELPERS_H
#include <node_api.h>
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

#endif

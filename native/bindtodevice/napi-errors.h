// How every file of the addon reports a failed system call to JavaScript:
// an Error naming what failed and why (strerror), thrown in the caller.
#ifndef RACKBOOT_NAPI_ERRORS_H
#define RACKBOOT_NAPI_ERRORS_H
#include <node_api.h>
#include <stdio.h>
#include <string.h>

static inline napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

#endif

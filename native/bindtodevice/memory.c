// mallocTrim() -> true when memory was given back: glibc's malloc_trim(0),
// which returns the free pages of every malloc arena to the kernel, not only
// the top of the main heap as free() does. SQLite's page cache and
// better-sqlite3's statements live in malloc'd memory: after a large
// inventory reload is done with them, their pages would otherwise stay in
// the daemon's RSS.
#include <node_api.h>
#include "napi-helpers.h"
#include <malloc.h>
#include "memory.h"

static napi_value malloc_trim_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) == 1, &out);
  return out;
}

void register_memory(napi_env env, napi_value exports) {
  export_function(env, exports, "mallocTrim", malloc_trim_js);
}

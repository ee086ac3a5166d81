// Zero-copy asset bodies (sendfile.c): registers sendFile and abortSendFile.
#pragma once
#include <node_api.h>

void register_sendfile(napi_env env, napi_value exports);

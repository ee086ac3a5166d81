{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "tcp_user_timeout.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

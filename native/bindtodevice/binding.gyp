{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "tcp_user_timeout.c", "arp.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "udp-batch.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

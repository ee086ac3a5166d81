{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "udp-batch.c", "memory.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

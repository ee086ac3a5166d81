{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "arp.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

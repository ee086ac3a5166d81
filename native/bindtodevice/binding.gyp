{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "sendfile.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

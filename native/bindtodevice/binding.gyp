{
  "targets": [
    {
      "target_name": "bindtodevice",
      "sources": ["bindtodevice.c", "tcp_user_timeout.c", "arp.c", "udp-batch.c", "memory.c", "sendfile.c", "tftp-acks.c", "tftp-ack-thread.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

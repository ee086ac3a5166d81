// What tftp-acks.c (the ACK receiver on the loop's uv_poll) shares with
// tftp-ack-thread.c (the same receiver on the one receiver thread, off the loop).
#pragma once
#include <node_api.h>
#include <uv.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define RX_BATCH 8
#define RX_MAX 65536
#define RTT_KEPT 8

struct acks {
  uv_poll_t poll;
  napi_env env;
  napi_ref data_ref;
  napi_ref callback;
  napi_async_context async;
  int fd;
  bool closing;
  // Freed when both libuv and the JavaScript external are done with it.
  bool uv_done, js_done;
  const unsigned char *data;
  size_t length;
  uint32_t blksize, windowsize;
  int64_t total;
  // The window out: acked + 1 .. sent_up_to; armed once JavaScript sent one.
  bool armed, timed;
  int64_t acked, sent_up_to;
  uint64_t window_sent_ns;
  // Since the last sync.
  int64_t synced_acked, windows, packets, bytes;
  double rtt_ms[RTT_KEPT];
  unsigned rtts;
  int pending_err;  // thread mode: a send error fast_ack met, for the receiver to hand over
  // Thread mode: the lock over everything above (the receiver thread and the
  // loop both use it), what the receiver hands to the loop (a list of events,
  // newest first), and the list of closing transfers (tftp-ack-thread.c).
  bool threaded;
  struct acks *next_closing;
  pthread_mutex_t lock;
  uv_async_t wake;
  struct queued *queue;
  // The receiver has let go of a closing transfer: its last wake-up is sent
  // (done), and it has made its last access to this struct (exited);
  // released: the loop has let go.
  bool done, exited, released;
};

struct queued {
  struct queued *next;
  int kind;  // 0: datagram (len bytes follow), else an errno event
  int err;
  size_t len;
  unsigned char bytes[];
};

/** recvmmsg's vectors over RX_BATCH buffers of RX_MAX bytes. */
void rx_prepare(struct mmsghdr *msgs, struct iovec *iov, unsigned char (*bufs)[RX_MAX]);
/** Calls onEvent(kind, arg) as a libuv callback would (loop thread only). */
void emit(struct acks *a, int kind, napi_value arg);
/** The common ACK, answered with the next window; true when taken (thread mode: under the lock). */
bool fast_ack(struct acks *a, const unsigned char *p, size_t len);
/** libuv is done with the struct's handle: frees it once JavaScript is too. */
void on_closed(uv_handle_t *handle);

/** Thread mode: the lock over the struct (no-ops on the uv_poll receiver). */
void lock(struct acks *a);
void unlock(struct acks *a);
/** Thread mode: puts the socket in the receiver thread's epoll (starting the thread once) with a wake-up to the loop (0 or -errno). */
int ack_thread_start(struct acks *a, uv_loop_t *loop);
/** Thread mode: stops the receiver; the socket and the wake-up close once it has exited (no join on the loop). */
void ack_thread_stop(struct acks *a);

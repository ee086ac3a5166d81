// The TFTP transfer socket's receive side, on the event loop's own thread
// (a uv_poll on the connected transfer socket; src/tftp/ack-fast-path.ts).
//
// With windowsize 1 a transfer is one round trip per block, and Node's
// per-datagram receive path (a Buffer, an rinfo object and an emit per ACK,
// then our decode and state machine) cost about as much as the rest of the
// round trip: 7 µs of daemon CPU per block against dnsmasq's 4.6.
//
// The fast path takes only the common case: a 4-byte ACK of the last block
// of the window just sent, while that was not the file's last block. It then
// sends the next window itself (tftp_send_window, one sendmmsg) without
// entering JavaScript, exactly as src/tftp/transfer.ts would (next window =
// acked + 1 .. min(acked + windowsize, total)). Everything else (an ACK
// before any window was sent, i.e. the OACK's ACK 0; a duplicate or earlier
// ACK; the ACK of the last block; ERROR; anything malformed) goes to
// JavaScript as the datagram's bytes, and the transfer machine decides. It
// first reads what the fast path did (tftpAcksSync), so it decides from the
// same state it would have reached itself.
//
// tftpAcksOpen(fd, data, blksize, windowsize, onEvent(kind, arg)) -> handle
//   Takes the fd (closed by tftpAcksClose). kind 0: a datagram (Buffer) for
//   JavaScript; 1: ICMP port unreachable (ECONNREFUSED); 2: another receive
//   or send error (errno).
// tftpAcksSend(handle, from, to, timed) -> packets sent, or -errno
//   Sends DATA from..to and expects the ACK of `to` next. `timed`: this is a
//   window's first send, so its ACK gives a round-trip sample (false for a
//   retransmission: Karn).
// tftpAcksSync(handle) -> [acked, windows, packets, bytes, windowAgeMs, ...rttMs]
//   What the fast path did since the last sync: the highest block it saw
//   acknowledged (0: none), the windows and DATA packets it sent, their
//   payload bytes, how long ago its current window left, and the round trips
//   it measured (the last RTT_KEPT of them).
// tftpAcksClose(handle)
//
// tftpAcksOpen(..., onEvent, true): the same receiver off the loop, on the
// one receiver thread all such transfers share (tftp-ack-thread.c).
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include "napi-helpers.h"
#include "udp-batch.h"
#include "tftp-acks.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#define TFTP_ACK 4



// Received datagrams land here: the poll callbacks all run on the loop thread.
static unsigned char rx_buf[RX_BATCH][RX_MAX];

/** recvmmsg's vectors over RX_BATCH buffers of RX_MAX bytes. */
void rx_prepare(struct mmsghdr *msgs, struct iovec *iov, unsigned char (*bufs)[RX_MAX]) {
  for (int i = 0; i < RX_BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = RX_MAX;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

static int64_t payload_bytes(const struct acks *a, int64_t from, int64_t to) {
  int64_t end = to * (int64_t)a->blksize, start = (from - 1) * (int64_t)a->blksize;
  if (end > (int64_t)a->length) end = (int64_t)a->length;
  return end > start ? end - start : 0;
}

/** Calls onEvent(kind, arg) as a libuv callback would: its own scope, microtasks after. */
void emit(struct acks *a, int kind, napi_value arg) {
  napi_env env = a->env;
  napi_value cb, recv, argv[2];
  napi_get_reference_value(env, a->callback, &cb);
  napi_get_global(env, &recv);
  argv[0] = number(env, kind);
  argv[1] = arg;
  if (napi_make_callback(env, a->async, recv, cb, 2, argv, NULL) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

static void emit_errno(struct acks *a, int err) {
  napi_handle_scope scope;
  napi_open_handle_scope(a->env, &scope);
  emit(a, err == ECONNREFUSED ? 1 : 2, number(a->env, err));
  napi_close_handle_scope(a->env, scope);
}

static int64_t send_window(struct acks *a, int64_t from, int64_t to, bool timed) {
  a->acked = from - 1;
  a->sent_up_to = to;
  a->armed = true;
  a->timed = timed;
  a->window_sent_ns = uv_hrtime();
  return tftp_send_window(a->fd, a->data, a->length, a->blksize, from, to);
}

/** The common case: the window's last block acknowledged, more to send. True when taken. */
bool fast_ack(struct acks *a, const unsigned char *p, size_t len) {
  if (!a->armed || len != 4 || p[0] != 0 || p[1] != TFTP_ACK) return false;
  unsigned block = ((unsigned)p[2] << 8) | p[3];
  if (a->sent_up_to >= a->total || block != (unsigned)(a->sent_up_to & 0xffff)) return false;
  uint64_t now = uv_hrtime();
  if (a->timed) {
    a->rtt_ms[a->rtts % RTT_KEPT] = (double)(now - a->window_sent_ns) / 1e6;
    a->rtts++;
  }
  int64_t from = a->sent_up_to + 1, to = a->sent_up_to + a->windowsize;
  if (to > a->total) to = a->total;
  a->synced_acked = a->sent_up_to;
  a->windows++;
  a->packets += to - from + 1;
  int64_t n = send_window(a, from, to, true);
  if (n > 0) a->bytes += payload_bytes(a, from, from + n - 1);
  // EAGAIN/ENOBUFS: as a packet lost on the wire, the retransmit timer recovers it.
  if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
    if (a->threaded) a->pending_err = (int)-n;
    else emit_errno(a, (int)-n);
  }
  return true;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  struct acks *a = handle->data;
  if (status < 0) {
    // libuv stops the poll on EPOLLERR (an ICMP error queued on the socket)
    // and says only EBADF: read the error itself (which clears it), poll
    // again, and read the datagrams queued behind it.
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (uv_poll_start(&a->poll, UV_READABLE, on_readable) != 0 && !err) err = EBADF;
    if (err) emit_errno(a, err);
  }
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  while (!a->closing) {
    rx_prepare(msgs, iov, rx_buf);
    int n = recvmmsg(a->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // The socket's pending error (ECONNREFUSED after an ICMP port
      // unreachable) is cleared by reporting it; queued datagrams follow.
      int err = errno;
      emit_errno(a, err);
      if (err == ECONNREFUSED) continue;
      // Any other error ends the transfer; JavaScript may have finished it
      // already and left it open. One that persisted would hold the loop
      // here: stop polling (closing the handle later stops it again, harmlessly).
      if (!a->closing) uv_poll_stop(&a->poll);
      return;
    }
    for (int i = 0; i < n && !a->closing; i++) {
      if (fast_ack(a, rx_buf[i], msgs[i].msg_len)) continue;
      napi_handle_scope scope;
      napi_open_handle_scope(a->env, &scope);
      napi_value buf;
      void *copy = NULL;
      napi_create_buffer_copy(a->env, msgs[i].msg_len, rx_buf[i], &copy, &buf);
      emit(a, 0, buf);
      napi_close_handle_scope(a->env, scope);
    }
    if (n < RX_BATCH) return;
  }
}

static void on_finalized(napi_env env, void *data, void *hint);

static struct acks *handle_arg(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  return p;
}

static napi_value acks_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  bool threaded = false;
  int32_t fd = -1;
  uint32_t blksize = 0, windowsize = 0;
  void *data = NULL;
  size_t length = 0;
  napi_valuetype cbType = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || !uint8_bytes(env, argv[1], &data, &length) ||
      napi_get_value_uint32(env, argv[2], &blksize) != napi_ok || blksize == 0 ||
      napi_get_value_uint32(env, argv[3], &windowsize) != napi_ok || windowsize == 0 ||
      napi_typeof(env, argv[4], &cbType) != napi_ok || cbType != napi_function) {
    napi_throw_type_error(env, NULL, "tftpAcksOpen(fd, Uint8Array, blksize > 0, windowsize > 0, onEvent, threaded?)");
    return NULL;
  }
  if (argc >= 6) napi_get_value_bool(env, argv[5], &threaded);
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "tftpAcksOpen: event loop", EINVAL);
  struct acks *a = calloc(1, sizeof *a);
  if (!a) return throw_errno(env, "tftpAcksOpen", ENOMEM);
  a->env = env;
  a->fd = fd;
  a->data = data;
  a->length = length;
  a->blksize = blksize;
  a->windowsize = windowsize;
  a->total = (int64_t)(length / blksize) + 1;
  napi_value name;
  napi_create_string_utf8(env, "rackboot.tftpAcks", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &a->data_ref);
  napi_create_reference(env, argv[4], 1, &a->callback);
  napi_async_init(env, NULL, name, &a->async);
  a->threaded = threaded;
  int r;
  if (threaded) {
    r = ack_thread_start(a, loop);
  } else {
    r = uv_poll_init(loop, &a->poll, fd);
    a->poll.data = a;
    if (r == 0) r = uv_poll_start(&a->poll, UV_READABLE, on_readable);
  }
  if (r != 0) {
    napi_delete_reference(env, a->data_ref);
    napi_delete_reference(env, a->callback);
    napi_async_destroy(env, a->async);
    if (!a->js_done) free(a);
    return throw_errno(env, "tftpAcksOpen: receiver", -r);
  }
  napi_value out;
  napi_create_external(env, a, on_finalized, NULL, &out);
  return out;
}

static napi_value acks_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int64_t from = 0, to = 0;
  bool timed = false;
  struct acks *a = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || !(a = handle_arg(env, argv[0])) ||
      napi_get_value_int64(env, argv[1], &from) != napi_ok || napi_get_value_int64(env, argv[2], &to) != napi_ok ||
      napi_get_value_bool(env, argv[3], &timed) != napi_ok || from < 1 || to < from || to > a->total) {
    napi_throw_type_error(env, NULL, "tftpAcksSend(handle, from >= 1, to in from..total blocks, timed)");
    return NULL;
  }
  if (a->closing) return number(env, -EBADF);
  lock(a);
  // Thread mode: JavaScript decided from a sync the receiver has since overtaken.
  int64_t n = a->threaded && a->windows ? 0 : send_window(a, from, to, timed);
  unlock(a);
  return number(env, n);
}

/** The handle that is a call's only argument, or NULL with a TypeError thrown. */
static struct acks *sole_handle(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  struct acks *a = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !(a = handle_arg(env, argv[0])))
    napi_throw_type_error(env, NULL, usage);
  return a;
}

static napi_value acks_sync(napi_env env, napi_callback_info info) {
  struct acks *a = sole_handle(env, info, "tftpAcksSync(handle)");
  if (!a) return NULL;
  lock(a);
  unsigned kept = a->rtts < RTT_KEPT ? a->rtts : RTT_KEPT;
  napi_value out;
  napi_create_array_with_length(env, 5 + kept, &out);
  double fields[5] = {(double)a->synced_acked, (double)a->windows, (double)a->packets, (double)a->bytes,
                      (double)(uv_hrtime() - a->window_sent_ns) / 1e6};
  for (unsigned i = 0; i < 5; i++) {
    napi_value v;
    napi_create_double(env, fields[i], &v);
    napi_set_element(env, out, i, v);
  }
  for (unsigned i = 0; i < kept; i++) {
    napi_value v;
    napi_create_double(env, a->rtt_ms[(a->rtts - kept + i) % RTT_KEPT], &v);
    napi_set_element(env, out, 5 + i, v);
  }
  a->synced_acked = 0;
  a->windows = a->packets = a->bytes = 0;
  a->rtts = 0;
  unlock(a);
  return out;
}

void on_closed(uv_handle_t *handle) {
  struct acks *a = handle->data;
  a->uv_done = true;
  if (a->js_done) free(a);
}

/** Stops polling and closes the socket; the struct is freed once libuv and JavaScript are both done. */
static void stop(struct acks *a) {
  __atomic_store_n(&a->closing, true, __ATOMIC_RELEASE);
  if (a->threaded) return ack_thread_stop(a);
  uv_poll_stop(&a->poll);
  close(a->fd);
  uv_close((uv_handle_t *)&a->poll, on_closed);
}

static void on_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct acks *a = data;
  a->js_done = true;
  // Never closed (the transfer's owner dropped it): the poll is still live.
  if (!a->closing) stop(a);
  else if (a->uv_done) free(a);
}

static napi_value acks_close(napi_env env, napi_callback_info info) {
  struct acks *a = sole_handle(env, info, "tftpAcksClose(handle)");
  if (!a || a->closing) return NULL;
  // Thread mode: the receiver may still read the file's bytes; released when it has exited.
  if (!a->threaded) napi_delete_reference(env, a->data_ref);
  napi_delete_reference(env, a->callback);
  napi_async_destroy(env, a->async);
  stop(a);
  return NULL;
}

void register_tftp_acks(napi_env env, napi_value exports) {
  export_function(env, exports, "tftpAcksOpen", acks_open);
  export_function(env, exports, "tftpAcksSend", acks_send);
  export_function(env, exports, "tftpAcksSync", acks_sync);
  export_function(env, exports, "tftpAcksClose", acks_close);
}

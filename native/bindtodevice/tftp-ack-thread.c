// The native ACK receiver on a thread of the transfer's own (tftpAcksOpen's
// `threaded`; src/tftp/server.ts ackThread), instead of tftp-acks.c's
// uv_poll on the loop thread: a blocking recvmmsg, the common ACK answered
// right there under the struct's lock (fast_ack), everything else queued
// and handed to the loop by a uv_async, in arrival order.
//
// Why: a transfer served on the loop waits whenever the loop is busy. In a
// boot storm it is (DHCP commits, scripts, the other transfers), and each
// of a lock-step transfer's round trips waits again. Measured 2026-12-03 on
// the loaded machine, 1,000 concurrent curl transfers of undionly.kpxe with
// the loop held 50 ms of every 100: median per transfer 35.6 s on the
// uv_poll, 6.9 s on threads, 10.8 s for dnsmasq (round 6 note).
//
// JavaScript may decide from a sync the receiver has since overtaken (it
// answered an ACK meanwhile): such a send is dropped (tftpAcksSend returns 0)
// and the next sync tells JavaScript where the transfer really is.
//
// The end of a transfer never waits for the receiver on the loop. It used to
// pthread_join it, which waits until the thread is scheduled: measured
// 2026-12-03 on the loaded machine (load 76, 500 concurrent transfers), mean
// 153 us of loop per transfer's end, 21 of 500 over 1 ms, the longest 9.9 ms.
// Now the thread is detached; it says when it has made its last access to
// the struct (exited), and the loop closes the socket and the wake-up and
// frees the struct only after that.
#define _GNU_SOURCE
#include "tftp-acks.h"
#include "napi-helpers.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A thread per transfer (a storm runs a thousand): a small stack is plenty.
#define RX_THREAD_STACK (128 * 1024)

void lock(struct acks *a) {
  if (a->threaded) pthread_mutex_lock(&a->lock);
}
void unlock(struct acks *a) {
  if (a->threaded) pthread_mutex_unlock(&a->lock);
}

/** Thread mode: queues an event for the loop (datagram bytes, or an errno). */
static void hand_over(struct acks *a, int err, const unsigned char *p, size_t len) {
  struct queued *q = malloc(sizeof *q + len);
  if (!q) return;
  q->kind = err ? (err == ECONNREFUSED ? 1 : 2) : 0;
  q->err = err;
  q->len = len;
  if (len) memcpy(q->bytes, p, len);
  pthread_mutex_lock(&a->lock);
  q->next = a->queue;
  a->queue = q;
  pthread_mutex_unlock(&a->lock);
  uv_async_send(&a->wake);
}

static void *receiver(void *arg) {
  struct acks *a = arg;
  unsigned char (*buf)[RX_MAX] = malloc(RX_BATCH * RX_MAX);
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  if (!buf) hand_over(a, ENOMEM, NULL, 0);
  while (buf && !__atomic_load_n(&a->closing, __ATOMIC_ACQUIRE)) {
    rx_prepare(msgs, iov, buf);
    int n = recvmmsg(a->fd, msgs, RX_BATCH, MSG_WAITFORONE, NULL);
    if (__atomic_load_n(&a->closing, __ATOMIC_ACQUIRE)) break;
    if (n < 0) {
      int err = errno;
      if (err == EINTR || err == EAGAIN) continue;
      // ECONNREFUSED after an ICMP port unreachable: reading it cleared it.
      hand_over(a, err, NULL, 0);
      if (err == EBADF || err == ENOTSOCK) break;
      continue;
    }
    for (int i = 0; i < n; i++) {
      pthread_mutex_lock(&a->lock);
      // Closed meanwhile: JavaScript has ended the transfer, send nothing more.
      bool taken = __atomic_load_n(&a->closing, __ATOMIC_ACQUIRE) || fast_ack(a, buf[i], msgs[i].msg_len);
      int err = a->pending_err;
      a->pending_err = 0;
      pthread_mutex_unlock(&a->lock);
      if (err) hand_over(a, err, NULL, 0);
      if (!taken) hand_over(a, 0, buf[i], msgs[i].msg_len);
    }
  }
  free(buf);
  __atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
  uv_async_send(&a->wake);
  // The last access to *a: from here the loop may free it.
  __atomic_store_n(&a->exited, true, __ATOMIC_RELEASE);
  return NULL;
}

/** On the loop, once the receiver has exited: closes the socket and the wake-up (the struct goes in on_closed). */
static void release(struct acks *a) {
  if (a->released) return;
  a->released = true;
  close(a->fd);
  for (struct queued *q = a->queue, *next; q; q = next) next = q->next, free(q);
  a->queue = NULL;
  pthread_mutex_destroy(&a->lock);
  // Held until now: the receiver read the file's bytes until it exited.
  napi_delete_reference(a->env, a->data_ref);
  uv_close((uv_handle_t *)&a->wake, on_closed);
}

/** On the loop, after stop: releases the struct once the receiver has exited, else looks again. */
static void release_when_exited(struct acks *a) {
  if (__atomic_load_n(&a->exited, __ATOMIC_ACQUIRE)) return release(a);
  // Between its last wake-up and its last access: one store away, look again
  // on the loop's next turn (no wait on the loop).
  if (__atomic_load_n(&a->done, __ATOMIC_ACQUIRE)) uv_async_send(&a->wake);
  // Otherwise its own last wake-up is still to come.
}

/** Thread mode, on the loop: emits what the receiver queued, oldest first. */
static void on_wake(uv_async_t *handle) {
  struct acks *a = handle->data;
  if (a->released) return;
  pthread_mutex_lock(&a->lock);
  struct queued *q = a->queue, *ordered = NULL;
  a->queue = NULL;
  pthread_mutex_unlock(&a->lock);
  while (q) {
    struct queued *next = q->next;
    q->next = ordered;
    ordered = q;
    q = next;
  }
  while (ordered) {
    struct queued *next = ordered->next;
    if (!a->closing) {
      napi_handle_scope scope;
      napi_open_handle_scope(a->env, &scope);
      napi_value arg;
      if (ordered->kind == 0) {
        void *copy = NULL;
        napi_create_buffer_copy(a->env, ordered->len, ordered->bytes, &copy, &arg);
      } else {
        arg = number(a->env, ordered->err);
      }
      emit(a, ordered->kind, arg);
      napi_close_handle_scope(a->env, scope);
    }
    free(ordered);
    ordered = next;
  }
  if (a->closing) release_when_exited(a);
}

int ack_thread_start(struct acks *a, uv_loop_t *loop) {
  int r;
  // The receiver blocks in recvmmsg; sends pass MSG_DONTWAIT.
  fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) & ~O_NONBLOCK);
  pthread_mutex_init(&a->lock, NULL);
  r = uv_async_init(loop, &a->wake, on_wake);
  a->wake.data = a;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, RX_THREAD_STACK);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (r == 0 && pthread_create(&a->thread, &attr, receiver, a) != 0) {
    r = -EAGAIN;
    // Freed by on_closed once libuv lets go of the handle.
    a->js_done = true;
    uv_close((uv_handle_t *)&a->wake, on_closed);
  }
  pthread_attr_destroy(&attr);
  return r;
}

void ack_thread_stop(struct acks *a) {
  // Wakes the blocked recvmmsg (it returns at once on a shut-down socket);
  // the receiver then exits and its last wake-up releases the struct.
  shutdown(a->fd, SHUT_RDWR);
  release_when_exited(a);
}

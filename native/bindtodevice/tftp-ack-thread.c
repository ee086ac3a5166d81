// The native ACK receiver off the event loop (tftpAcksOpen's `threaded`;
// src/tftp/server.ts ackThread), instead of tftp-acks.c's uv_poll on the
// loop thread: one receiver thread for every such transfer, an epoll over
// their sockets, the common ACK answered right there under the struct's lock
// (fast_ack), everything else queued and handed to the loop by the
// transfer's uv_async, in arrival order.
//
// Why off the loop: a transfer served on the loop waits whenever the loop is
// busy. In a boot storm it is (DHCP commits, scripts, the other transfers),
// and each of a lock-step transfer's round trips waits again. Measured
// 2026-12-03 on the loaded machine, 1,000 concurrent curl transfers of
// undionly.kpxe with the loop held 50 ms of every 100: median per transfer
// 35.6 s on the uv_poll, 6.9 s on threads, 10.8 s for dnsmasq (round 6).
//
// Why one thread and not one per transfer (as until 2026-12-04): a thread
// of its own per transfer cost about 1 ms more CPU per transfer than the
// loop's uv_poll, and ran slower even alone. 600 transfers of undionly.kpxe
// one after another (blksize 512, 145 round trips each), the daemon's
// task-clock: 2.34-2.61 s with a thread each, 1.85 s on the loop, with the
// same context switches (one per ACK) but three times the CPU migrations
// (bench/HISTORY.md, round 11). One long-lived thread stays warm, and
// in a storm one epoll_wait brings the ACKs of many transfers at once.
//
// JavaScript may decide from a sync the receiver has since overtaken (it
// answered an ACK meanwhile): such a send is dropped (tftpAcksSend returns 0)
// and the next sync tells JavaScript where the transfer really is.
//
// The end of a transfer never waits for the receiver on the loop (a
// pthread_join once cost up to 9.9 ms of loop per transfer on the loaded
// machine). The loop takes the socket out of the epoll and queues the
// struct as closing; the receiver, once the batch of events it may be in the
// middle of is done (so no event of that batch still points at the struct),
// says it will not touch the struct again (exited), and the loop closes the
// socket and the wake-up and frees the struct only after that.
#define _GNU_SOURCE
#include "tftp-acks.h"
#include "napi-helpers.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

void lock(struct acks *a) {
  if (a->threaded) pthread_mutex_lock(&a->lock);
}
void unlock(struct acks *a) {
  if (a->threaded) pthread_mutex_unlock(&a->lock);
}

/** Events one epoll_wait takes: ACKs of that many transfers per wake-up. */
#define EPOLL_BATCH 64

static pthread_once_t receiver_once = PTHREAD_ONCE_INIT;
static int receiver_error;  // errno if the receiver could not start
static int epfd = -1;
// Wakes the receiver from epoll_wait when a transfer closes (the epoll's
// entry whose data.ptr is NULL), so that it hands the closing ones back.
static int closing_fd = -1;
static pthread_mutex_t closing_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acks *closing;  // taken out of the epoll, not yet let go by the receiver
// Only the receiver reads into these.
static unsigned char rx_bufs[RX_BATCH][RX_MAX];

/** Receiver: queues an event for the loop (datagram bytes, or an errno). */
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

/** Receiver: everything queued on one transfer's socket, the common ACKs answered. */
static void drain(struct acks *a) {
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  while (!__atomic_load_n(&a->closing, __ATOMIC_ACQUIRE)) {
    rx_prepare(msgs, iov, rx_bufs);
    int n = recvmmsg(a->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      hand_over(a, err, NULL, 0);
      // ECONNREFUSED after an ICMP port unreachable: reading it cleared it,
      // and the datagrams queued behind it follow.
      if (err == ECONNREFUSED) continue;
      // Any other error ends the transfer (JavaScript closes it on this
      // event). One that persisted would come back from every recvmmsg and
      // every epoll_wait until then: the receiver would spin and queue an
      // event per try. So the socket is watched no more (ack_thread_stop's
      // own EPOLL_CTL_DEL then finds it gone, which is harmless).
      epoll_ctl(epfd, EPOLL_CTL_DEL, a->fd, NULL);
      return;
    }
    for (int i = 0; i < n; i++) {
      pthread_mutex_lock(&a->lock);
      // Closed meanwhile: JavaScript has ended the transfer, send nothing more.
      bool taken = __atomic_load_n(&a->closing, __ATOMIC_ACQUIRE) || fast_ack(a, rx_bufs[i], msgs[i].msg_len);
      int err = a->pending_err;
      a->pending_err = 0;
      pthread_mutex_unlock(&a->lock);
      if (err) hand_over(a, err, NULL, 0);
      if (!taken) hand_over(a, 0, rx_bufs[i], msgs[i].msg_len);
    }
    if (n < RX_BATCH) return;
  }
}

/** Receiver: lets go of the transfers closed so far; none of them is in a batch still being handled. */
static void let_go_of_closing(void) {
  uint64_t count;
  if (read(closing_fd, &count, sizeof count) < 0) { /* nothing was signalled */ }
  pthread_mutex_lock(&closing_lock);
  struct acks *list = closing;
  closing = NULL;
  pthread_mutex_unlock(&closing_lock);
  while (list) {
    struct acks *a = list, *next = a->next_closing;
    __atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
    uv_async_send(&a->wake);
    // The last access to *a: from here the loop may free it.
    __atomic_store_n(&a->exited, true, __ATOMIC_RELEASE);
    list = next;
  }
}

static void *receiver(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "rb-tftp-acks");  // as sendfile.c's threads: visible in top -H and /proc
  struct epoll_event events[EPOLL_BATCH];
  for (;;) {
    int n = epoll_wait(epfd, events, EPOLL_BATCH, -1);
    bool closed = false;
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr) drain(events[i].data.ptr);
      else closed = true;
    }
    // After the batch: a transfer closed during it may have been in it.
    if (closed) let_go_of_closing();
  }
  return NULL;
}

static void start_receiver(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  closing_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd < 0 || closing_fd < 0) {
    receiver_error = errno;
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, closing_fd, &ev) < 0) {
    receiver_error = errno;
    return;
  }
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  receiver_error = pthread_create(&thread, &attr, receiver, NULL);
  pthread_attr_destroy(&attr);
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
  pthread_once(&receiver_once, start_receiver);
  if (receiver_error) return -receiver_error;
  pthread_mutex_init(&a->lock, NULL);
  int r = uv_async_init(loop, &a->wake, on_wake);
  a->wake.data = a;
  if (r != 0) return r;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = a};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, a->fd, &ev) < 0) {
    r = -errno;
    // Freed by on_closed once libuv lets go of the handle.
    a->js_done = true;
    uv_close((uv_handle_t *)&a->wake, on_closed);
  }
  return r;
}

void ack_thread_stop(struct acks *a) {
  // Out of the epoll first: no batch the receiver takes from now on holds it.
  epoll_ctl(epfd, EPOLL_CTL_DEL, a->fd, NULL);
  pthread_mutex_lock(&closing_lock);
  a->next_closing = closing;
  closing = a;
  pthread_mutex_unlock(&closing_lock);
  uint64_t one = 1;
  if (write(closing_fd, &one, sizeof one) < 0) { /* already signalled (the counter is full) */ }
}

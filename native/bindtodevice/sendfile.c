// sendFile(socketFd, fileFd, offset, length, callback(errno, bytesSent)) -> id
// abortSendFile(id)
// tcpCorked(socketFd) -> boolean (the socket's TCP_CORK, so a test can see the body's cork)
//
// Zero-copy body transfer for the asset routes: sendfile(2) from a cached
// file to a client socket, driven by I/O threads of the addon's own, so
// neither the bytes nor the per-buffer syscalls go through the JS event loop
// (nginx serves the same way). Each thread owns an epoll set: a transfer is
// sent until the socket is full (EAGAIN), then waits for EPOLLOUT, like an
// nginx worker. A transfer that could go on without blocking yields after
// QUANTUM bytes so one fast client cannot hold up the others. A new transfer
// goes to the first thread that is not short of CPU (see worker_for).
//
// The libuv threadpool is not used: it has 4 threads shared with fs and dns,
// and a transfer to a slow client would hold one of them for its whole life.
//
// The socket is dup()ed: Node may close its own descriptor (the client left,
// the server stops) while the thread still sends, and a descriptor number
// reused by then must never receive our bytes. abortSendFile shuts the socket
// down, which ends the transfer on its next send with an error. The file
// descriptor stays the caller's: it must stay open until the callback.
//
// The socket is corked (TCP_CORK, nginx's tcp_nopush) for the body: Node
// sets TCP_NODELAY, so without it every sendfile that finds a little room in
// a full send buffer pushes a short segment. Measured with one wrk client on
// loopback: 38 KB per segment on average and 0.6% spurious retransmissions
// against nginx's full 64 KB segments and 0.02%. The cork comes off before
// the callback, which pushes the last partial segment at once; Node keeps
// TCP_NODELAY for what it writes next on the connection.
// It pays where the sending thread is CPU-bound, whose cost is per segment
// (on loopback the receive path runs on the sender's CPU too): one client
// with nobody else on the CPUs, 0.84x nginx uncorked, 0.98x corked (bench/HISTORY.md,
// round 7).
//
// The callback gets (0, length) when every byte was sent, (ENODATA, sent) when
// the file ended before offset + length (it shrank: never reported whole), and
// (errno, sent) for a socket error (EPIPE, ECONNRESET, ...).
#define _GNU_SOURCE
#include <node_api.h>
#include "napi-helpers.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "sendfile.h"

// 4 MiB, nginx's order (its sendfile_max_chunk is 2 MiB): with 1 MiB, a
// 200-machine boot storm kept more transfers in flight at once, each paced
// slower, in smaller segments, and the daemon spent 1.36x the CPU of
// dnsmasq + nginx for the same bytes; with 4 MiB 1.16x (bench/HISTORY.md,
// round 8).
#define QUANTUM (4 << 20)
#define MAX_THREADS 8
// Two, one per core of the 2-core box it was measured on. In the 200-machine
// boot storm one thread is busy all the time (over veth the receivers' side
// runs on the sending CPU; 8-120 transfers ready per pass), and the kernel
// and initramfs phases took 1.76x and 1.44x the reference chain's where two
// give 0.85x and 0.70x (round 19; round 27 again: the storm 1.14x the chain
// with one, 1.04x with two). The second thread only takes transfers while
// the first is short of CPU (worker_for): in the storm a sending thread
// waits for a CPU 95% of the time, so there both are short and transfers
// are dealt in turn; under 200 wrk clients on loopback it waits about 15%,
// and there transfers dealt to both threads in turn kept both cores
// sending, the clients' receive windows closed more often and TCP segments
// shrank to 33-46 KB against one thread's 45-48. Against dealing in turn
// always, in alternating A/B rounds: HTTP at 200 clients 0.92x -> 1.02x
// nginx, the storm at parity with it; in round 32's two full runs, where
// the HTTP bench follows the others, 0.95x and 0.92x (bench/HISTORY.md,
// rounds 19, 27, 30, 31 and 32).
#define DEFAULT_THREADS 2
// A thread is short of CPU when, over its last SAMPLE_NS or more of wall
// time, the kernel kept it waiting for a CPU (run_delay in
// /proc/thread-self/schedstat) more than half of it.
#define SAMPLE_NS (50 * 1000 * 1000LL)

// One I/O thread: its epoll set, its wake-up eventfd, and what was submitted to it.
struct worker {
  int epfd;
  int wakefd;
  struct transfer *incoming;  // submitted, not yet seen by the thread (linked by next_run, under lock)
  atomic_int short_of_cpu;  // written by the thread, read by worker_for without the lock
};

struct transfer {
  uint32_t id;
  int sock;  // our dup of the client socket
  int file;
  off_t offset;
  int64_t remaining;
  int64_t sent;
  int error;
  int ready;  // on the ready list: can send without waiting
  napi_threadsafe_function done;
  struct worker *worker;
  struct transfer *next;      // all live transfers (under lock)
  struct transfer *next_run;  // ready list (thread only)
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static int start_error;
static struct worker workers[MAX_THREADS];
static int threads;
static uint32_t next_id = 1;
static struct transfer *live;  // every transfer not yet finished

struct outcome {
  int error;
  int64_t sent;
};

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  struct outcome *o = data;
  if (env != NULL && cb != NULL) {
    napi_value argv[2], undefined;
    napi_create_int32(env, o->error, &argv[0]);
    napi_create_double(env, (double)o->sent, &argv[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, cb, 2, argv, NULL);
  }
  free(o);
}

static void unlink_live(struct transfer *t) {
  pthread_mutex_lock(&lock);
  for (struct transfer **p = &live; *p; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
}

static void set_cork(int sock, int on) {
  // Best effort: a socket already shut down refuses it, and then nothing is left to push.
  if (setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on) < 0) { /* see above */ }
}

static void finish(struct transfer *t, int error) {
  epoll_ctl(t->worker->epfd, EPOLL_CTL_DEL, t->sock, NULL);
  set_cork(t->sock, 0);
  unlink_live(t);
  close(t->sock);
  struct outcome *o = malloc(sizeof *o);
  if (o) {
    o->error = error;
    o->sent = t->sent;
    if (napi_call_threadsafe_function(t->done, o, napi_tsfn_blocking) != napi_ok) free(o);
  }
  napi_release_threadsafe_function(t->done, napi_tsfn_release);
  free(t);
}

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The second field of a schedstat file: ns spent runnable, waiting for a CPU. -1 if unreadable.
static int64_t run_delay_ns(int schedstat) {
  char text[96];
  ssize_t n = pread(schedstat, text, sizeof text - 1, 0);
  if (n <= 0) return -1;
  text[n] = 0;
  char *end;
  strtoll(text, &end, 10);
  return end == text ? -1 : strtoll(end, NULL, 10);
}

// Sends until done, EAGAIN (wait for EPOLLOUT) or QUANTUM (back of the ready list).
// Returns 1 if the transfer is still live.
static int pump(struct transfer *t) {
  int64_t budget = QUANTUM;
  while (t->remaining > 0) {
    if (budget <= 0) return 1;
    size_t want = (size_t)(t->remaining < budget ? t->remaining : budget);
    ssize_t n = sendfile(t->sock, t->file, &t->offset, want);
    if (n > 0) {
      t->remaining -= n;
      t->sent += n;
      budget -= n;
      continue;
    }
    if (n == 0) {
      finish(t, ENODATA);
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      t->ready = 0;
      return 1;
    }
    finish(t, errno);
    return 0;
  }
  finish(t, 0);
  return 0;
}

static void *run(void *arg) {
  struct worker *w = arg;
  // Named so `top -H`, /proc/PID/task/*/comm and the storm bench tell these
  // threads from Node's own (all "node" otherwise).
  pthread_setname_np(pthread_self(), "rb-sendfile");
  struct epoll_event events[64];
  struct transfer *ready_head = NULL, *ready_tail = NULL;
  // Without it (a kernel built without CONFIG_SCHED_INFO) the thread counts
  // as short of CPU for good, and transfers are dealt to the threads in turn.
  int schedstat = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  int64_t sampled_at = monotonic_ns();
  int64_t delay_then = schedstat < 0 ? -1 : run_delay_ns(schedstat);
  if (delay_then < 0) atomic_store_explicit(&w->short_of_cpu, 1, memory_order_relaxed);
#define PUSH_READY(t)                        \
  do {                                       \
    (t)->ready = 1;                          \
    (t)->next_run = NULL;                    \
    if (ready_tail) ready_tail->next_run = (t); \
    else ready_head = (t);                   \
    ready_tail = (t);                        \
  } while (0)
  for (;;) {
    int n = epoll_wait(w->epfd, events, 64, ready_head ? 0 : -1);
    // Sampled only while the thread runs: a thread that sleeps with nothing
    // to send keeps its last verdict until it wakes, and the first sample
    // then spans the sleep.
    int64_t now = monotonic_ns();
    if (delay_then >= 0 && now - sampled_at >= SAMPLE_NS) {
      int64_t delay = run_delay_ns(schedstat);
      if (delay >= 0) {
        atomic_store_explicit(&w->short_of_cpu, (delay - delay_then) * 2 > now - sampled_at, memory_order_relaxed);
        delay_then = delay;
        sampled_at = now;
      }
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t v;
        if (read(w->wakefd, &v, sizeof v) < 0) { /* drained already */ }
        pthread_mutex_lock(&lock);
        struct transfer *in = w->incoming;
        w->incoming = NULL;
        pthread_mutex_unlock(&lock);
        while (in) {
          struct transfer *t = in;
          in = in->next_run;
          set_cork(t->sock, 1);
          struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.ptr = t };
          if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, t->sock, &ev) < 0) {
            finish(t, errno);
            continue;
          }
          PUSH_READY(t);
        }
        continue;
      }
      struct transfer *t = events[i].data.ptr;
      if (!t->ready) PUSH_READY(t);
    }
    // One pass over what was ready before this round; newly ready ones wait for the next.
    struct transfer *end = ready_tail;
    while (ready_head) {
      struct transfer *t = ready_head;
      ready_head = t->next_run;
      if (!ready_head) ready_tail = NULL;
      if (pump(t) && t->ready) PUSH_READY(t);
      if (t == end) break;
    }
  }
  return NULL;
}

static int start_worker(struct worker *w) {
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (w->epfd < 0) return errno;
  w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wakefd < 0) return errno;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0) return errno;
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&thread, &attr, run, w);
  pthread_attr_destroy(&attr);
  return err;
}

// RACKBOOT_SENDFILE_THREADS (1..MAX_THREADS) sets the number of I/O threads;
// the default is DEFAULT_THREADS (see the README's Performance section).
static void start(void) {
  const char *env = getenv("RACKBOOT_SENDFILE_THREADS");
  int n = env ? atoi(env) : DEFAULT_THREADS;
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  for (int i = 0; i < n; i++) {
    int err = start_worker(&workers[i]);
    if (err) {
      // Threads already running keep serving; none at all is an error.
      if (i == 0) start_error = err;
      break;
    }
    threads = i + 1;
  }
}

// The first thread not short of CPU, so a load one thread can send stays on
// one; in turn when all are short (a transfer stays on its thread for life).
static struct worker *worker_for(uint32_t id) {
  for (int i = 0; i < threads; i++) {
    if (!atomic_load_explicit(&workers[i].short_of_cpu, memory_order_relaxed)) return &workers[i];
  }
  return &workers[id % threads];
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t sock, file;
  int64_t offset, length;
  napi_valuetype cbtype = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_get_value_int32(env, argv[1], &file) != napi_ok ||
      napi_get_value_int64(env, argv[2], &offset) != napi_ok || napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      napi_typeof(env, argv[4], &cbtype) != napi_ok || cbtype != napi_function || sock < 0 || file < 0 || offset < 0 || length < 0) {
    napi_throw_type_error(env, NULL, "sendFile(socketFd, fileFd, offset, length, callback)");
    return NULL;
  }
  pthread_once(&started, start);
  if (start_error) return throw_errno(env, "sendFile: I/O thread", start_error);
  struct transfer *t = calloc(1, sizeof *t);
  if (!t) return throw_errno(env, "sendFile", ENOMEM);
  t->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0) {
    int err = errno;
    free(t);
    return throw_errno(env, "sendFile: dup", err);
  }
  // Node's sockets are non-blocking already; the thread relies on it.
  int flags = fcntl(t->sock, F_GETFL);
  if (flags < 0 || !(flags & O_NONBLOCK)) {
    close(t->sock);
    free(t);
    return throw_errno(env, "sendFile: socket is not non-blocking", EINVAL);
  }
  napi_value name;
  napi_create_string_utf8(env, "sendFile", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[4], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &t->done) != napi_ok) {
    close(t->sock);
    free(t);
    napi_throw_error(env, NULL, "sendFile: cannot create the completion callback");
    return NULL;
  }
  t->file = file;
  t->offset = (off_t)offset;
  t->remaining = length;
  pthread_mutex_lock(&lock);
  t->id = next_id++;
  if (next_id == 0) next_id = 1;
  t->next = live;
  live = t;
  t->worker = worker_for(t->id);
  t->next_run = t->worker->incoming;
  t->worker->incoming = t;
  // From the unlock on, *t is the thread's: it may send the whole body and
  // free t before this function returns (AddressSanitizer caught us reading
  // t->worker and t->id after that, 2026-12-04). Only these copies are used.
  uint32_t id_value = t->id;
  int wakefd = t->worker->wakefd;
  pthread_mutex_unlock(&lock);
  uint64_t one = 1;
  if (write(wakefd, &one, sizeof one) < 0) { /* already pending: the thread will look */ }
  napi_value id;
  napi_create_uint32(env, id_value, &id);
  return id;
}

// Shuts the transfer's socket down; the thread then fails its next send and
// calls back. Unknown ids (finished already) are ignored.
static napi_value abort_send_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t id;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok) {
    napi_throw_type_error(env, NULL, "abortSendFile(id)");
    return NULL;
  }
  pthread_mutex_lock(&lock);
  for (struct transfer *t = live; t; t = t->next) {
    if (t->id == id) {
      shutdown(t->sock, SHUT_RDWR);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

// Whether TCP_CORK is set on a socket. Throws for a descriptor that is not a TCP socket.
static napi_value tcp_corked(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t sock;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) {
    napi_throw_type_error(env, NULL, "tcpCorked(socketFd)");
    return NULL;
  }
  int on = 0;
  socklen_t len = sizeof on;
  if (getsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, &len) < 0) return throw_errno(env, "tcpCorked", errno);
  napi_value result;
  napi_get_boolean(env, on != 0, &result);
  return result;
}

void register_sendfile(napi_env env, napi_value exports) {
  export_function(env, exports, "sendFile", send_file);
  export_function(env, exports, "abortSendFile", abort_send_file);
  export_function(env, exports, "tcpCorked", tcp_corked);
}

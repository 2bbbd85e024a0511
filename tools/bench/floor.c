/* floor.c - what the machine itself costs, without goro: the floors under
 * the benchmark's thread-per-goroutine workloads.
 *
 * A goroutine here is an OS thread, so a workload that must move work
 * between threads more often than the CPUs allow pays for what the kernel
 * charges for that, whatever the library does. These measurements use
 * plain pthreads and Linux futexes, in the cheapest way each hand-off
 * can be done, and print one line each, like bench:
 *
 *   F1_futex_wake_idle_cpu   one futex hand-off to a thread asleep on
 *                            another, idle CPU (the price of letting a
 *                            waiter sleep);
 *   F2_yield_switch_same_cpu one hand-off between two threads sharing a
 *                            CPU with sched_yield (the cheapest context
 *                            switch: W7 needs one per value, as its three
 *                            goroutines share two CPUs);
 *   F3_wake_1000_sleepers    per thread, waking 1000 threads asleep on
 *                            futexes, each of which then does one atomic
 *                            add and sleeps again (W8's floor);
 *   F4_broadcast_1000_sleepers the same with all 1000 asleep on one futex
 *                            word, woken by a single FUTEX_WAKE: what a
 *                            broadcast leaves of F3 (the kernel still wakes
 *                            and schedules every thread);
 *   F5_spin_switch_two_cpus  one hand-off between two threads running on
 *                            two CPUs, each spinning on the turn word: no
 *                            system call at all, only the word's cache
 *                            line moving between the CPUs (W1 and W4 at
 *                            their best pay this for each hand-off, and
 *                            more, as a channel moves several lines).
 *
 * Usage: floor [-w F1|F2|F3|F4|F5]. Linux only (futex, CPU affinity).
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>

#if !defined(__linux__)
int
main(void)
{
  printf("floor: skipped=not_linux\n");
  return 0;
}
#else

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int64_t
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
futex_wait(_Atomic uint32_t *word, uint32_t val)
{
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void
futex_wake(_Atomic uint32_t *word, int n)
{
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void
die(const char *what, int rc)
{
  fprintf(stderr, "floor: %s: %s\n", what, strerror(rc));
  exit(EXIT_FAILURE);
}

static void
start(pthread_t *th, void *(*fn)(void *), void *arg)
{
  int rc = pthread_create(th, NULL, fn, arg);
  if (rc != 0)
    die("pthread_create", rc);
}

/* Pin the calling thread to cpu; false if the machine says no. */
static int
pin(int cpu)
{
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

/* ---- F1, F2: two threads taking turns ---------------------------------- */

/* How a player waits for its turn. */
enum wait { WAIT_FUTEX /* F1 */, WAIT_YIELD /* F2 */, WAIT_SPIN /* F5 */ };

struct turns {
  _Atomic uint32_t turn; /* whose turn: 0 or 1 */
  int rounds;
  int cpu[2];
  enum wait wait;
};

struct player {
  struct turns *t;
  uint32_t me;
};

static void *
play(void *arg)
{
  struct player *p = arg;
  struct turns *t = p->t;
  pin(t->cpu[p->me]);
  for (int i = 0; i < t->rounds; i++) {
    uint32_t cur;
    while ((cur = atomic_load(&t->turn)) != p->me) {
      if (t->wait == WAIT_YIELD)
        sched_yield();
      else if (t->wait == WAIT_FUTEX)
        futex_wait(&t->turn, cur);
#if defined(__x86_64__) || defined(__i386__)
      else
        __builtin_ia32_pause();
#endif
    }
    atomic_store(&t->turn, !p->me);
    if (t->wait == WAIT_FUTEX)
      futex_wake(&t->turn, 1);
  }
  return NULL;
}

/* ns per hand-off (one thread's turn passing to the other). */
static double
turns(int rounds, int cpu0, int cpu1, enum wait wait)
{
  struct turns t = {.rounds = rounds, .cpu = {cpu0, cpu1}, .wait = wait};
  atomic_init(&t.turn, 0);
  struct player p[2] = {{&t, 0}, {&t, 1}};
  pthread_t th[2];
  int64_t t0 = now_ns();
  for (int i = 0; i < 2; i++)
    start(&th[i], play, &p[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  return (double)(now_ns() - t0) / (2.0 * rounds);
}

/* ---- F3: waking 1000 sleepers ------------------------------------------- */

enum { SLEEPERS = 1000 };

struct sleepers {
  _Atomic uint32_t word[SLEEPERS]; /* 0: sleep; 1: woken */
  _Atomic uint32_t ready, left, all_done, release;
  bool broadcast; /* all sleep on word[0], woken by one FUTEX_WAKE */
};

struct sleeper {
  struct sleepers *s;
  int i;
};

static void *
sleep_then_count(void *arg)
{
  struct sleeper *me = arg;
  struct sleepers *s = me->s;
  _Atomic uint32_t *word = &s->word[s->broadcast ? 0 : me->i];
  atomic_fetch_add(&s->ready, 1);
  while (atomic_load(word) == 0)
    futex_wait(word, 0);
  if (atomic_fetch_sub(&s->left, 1) == 1) {
    atomic_store(&s->all_done, 1);
    futex_wake(&s->all_done, 1);
  }
  while (atomic_load(&s->release) == 0) /* asleep again, as a pooled worker */
    futex_wait(&s->release, 0);
  return NULL;
}

/* ns per sleeper, from the first wake to the last one's atomic add. */
static double
wake_sleepers(int rounds, bool broadcast)
{
  static struct sleepers s;
  static struct sleeper args[SLEEPERS];
  static pthread_t th[SLEEPERS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int64_t total = 0;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < SLEEPERS; i++)
      atomic_store(&s.word[i], 0);
    atomic_store(&s.ready, 0);
    atomic_store(&s.left, SLEEPERS);
    atomic_store(&s.all_done, 0);
    atomic_store(&s.release, 0);
    s.broadcast = broadcast;
    for (int i = 0; i < SLEEPERS; i++) {
      args[i] = (struct sleeper){&s, i};
      int rc = pthread_create(&th[i], &attr, sleep_then_count, &args[i]);
      if (rc != 0)
        die("pthread_create", rc);
    }
    while (atomic_load(&s.ready) < SLEEPERS)
      usleep(1000);
    usleep(10000); /* let every one fall asleep */
    int64_t t0 = now_ns();
    if (broadcast) {
      atomic_store(&s.word[0], 1);
      futex_wake(&s.word[0], SLEEPERS);
    } else {
      for (int i = 0; i < SLEEPERS; i++) {
        atomic_store(&s.word[i], 1);
        futex_wake(&s.word[i], 1);
      }
    }
    while (atomic_load(&s.all_done) == 0)
      futex_wait(&s.all_done, 0);
    total += now_ns() - t0;
    atomic_store(&s.release, 1);
    futex_wake(&s.release, SLEEPERS);
    for (int i = 0; i < SLEEPERS; i++)
      pthread_join(th[i], NULL);
  }
  pthread_attr_destroy(&attr);
  return (double)total / ((double)rounds * SLEEPERS);
}

int
main(int argc, char **argv)
{
  const char *only = NULL;
  if (argc == 3 && strcmp(argv[1], "-w") == 0 &&
      (strcmp(argv[2], "F1") == 0 || strcmp(argv[2], "F2") == 0 || strcmp(argv[2], "F3") == 0 ||
       strcmp(argv[2], "F4") == 0 || strcmp(argv[2], "F5") == 0)) {
    only = argv[2];
  } else if (argc != 1) {
    fprintf(stderr, "usage: floor [-w F1|F2|F3|F4|F5]\n");
    return 2;
  }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (only == NULL || strcmp(only, "F1") == 0) {
    if (ncpu < 2)
      printf("F1_futex_wake_idle_cpu skipped=one_cpu\n");
    else
      printf("F1_futex_wake_idle_cpu ns_per_op=%.1f ops=%d\n", turns(20000, 0, 1, WAIT_FUTEX), 40000);
  }
  if (only == NULL || strcmp(only, "F2") == 0)
    printf("F2_yield_switch_same_cpu ns_per_op=%.1f ops=%d\n", turns(200000, 0, 0, WAIT_YIELD), 400000);
  if (only == NULL || strcmp(only, "F3") == 0)
    printf("F3_wake_1000_sleepers ns_per_op=%.1f ops=%d\n", wake_sleepers(10, false),
           10 * SLEEPERS);
  if (only == NULL || strcmp(only, "F4") == 0)
    printf("F4_broadcast_1000_sleepers ns_per_op=%.1f ops=%d\n", wake_sleepers(10, true),
           10 * SLEEPERS);
  if (only == NULL || strcmp(only, "F5") == 0) {
    if (ncpu < 2)
      printf("F5_spin_switch_two_cpus skipped=one_cpu\n");
    else
      printf("F5_spin_switch_two_cpus ns_per_op=%.1f ops=%d\n", turns(200000, 0, 1, WAIT_SPIN),
             400000);
  }
  return 0;
}

#endif

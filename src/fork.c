/* fork.c - the top of the layer map (internal.h): goro's start at load,
 * and its fork handlers, the one place that knows every module's.
 *
 * At load, so that the environment's settings (GORO_DUMP_SIGNAL's handler
 * above all) are in force before the program first calls goro, each
 * layer is initialised from the bottom up, and the fork handlers are
 * registered (before any thread of goro's exists).
 *
 * fork: prepare takes every lock of goro's that a lost thread could hold
 * in the child, in the lock order of internal.h; the parent drops them in
 * reverse. The child, the forking thread alone, resets each module from
 * the bottom up while it still holds them (thread records, the pool, the
 * channel names, the timers), then drops them, then lets the modules
 * that start threads of their own (the registry's scans, signal
 * delivery) start them again.
 */
#include "config.h"

#include "internal.h"

static void
atfork_prepare(void)
{
  goro__signal_atfork_prepare();    /* 0. signal.c's lock */
  goro__mu_lock(&goro__threads.mu); /* 1. records, the idle stack */
  goro__timer_atfork_prepare();     /* 2. the timer lock */
  goro__names_atfork_prepare();     /* 2. then the channel-name table's */
  goro__pool_atfork_prepare();      /* 5. a leaf (valgrind builds) */
}

static void
atfork_parent(void)
{
  goro__pool_atfork_parent();
  goro__names_atfork_release();
  goro__timer_atfork_parent();
  goro__mu_unlock(&goro__threads.mu);
  goro__signal_atfork_parent();
}

static void
atfork_child(void)
{
  goro__thread_atfork_child();
  goro__pool_atfork_child();
  goro__names_atfork_release();
  goro__timer_atfork_child();
  goro__mu_unlock(&goro__threads.mu);
  goro__registry_atfork_child();
  goro__signal_atfork_child();
}

__attribute__((constructor)) static void
init_at_load(void)
{
  goro__thread_init();
  goro__pool_init();
  goro__registry_init();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

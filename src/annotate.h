/* annotate.h - what goro's atomics mean, told to valgrind's race
 * detectors (Helgrind and DRD).
 *
 * Both see pthread mutexes and condvars, not C11 atomics: to them an
 * atomic load or store is a plain access, and a value handed over through
 * one (the parker's state word above all) arrives by a race. A build
 * configured with --enable-valgrind (GORO_VALGRIND) says what they mean:
 *
 *   GORO__HAPPENS_BEFORE(addr)  placed before a release operation on addr;
 *   GORO__HAPPENS_AFTER(addr)   placed after the acquire operation that
 *                               observed it. The tools then order all that
 *                               came before the first before all that comes
 *                               after the second, as the atomics do.
 *   GORO__IGNORE_VAR(lvalue)    an object accessed only through atomics
 *                               whose value is a snapshot, a counter or a
 *                               claim, and hands no other data over
 *                               (registry fields, len, refs, a select's
 *                               winner): no race is reported on it. Placed
 *                               where the object is initialised; the tools
 *                               forget it when its memory is freed.
 *   GORO__IGNORE_STATIC(var)    the same for a variable of static storage,
 *                               at file scope after its definition.
 *   GORO__VALGRIND              1 in such a build, else 0, for code that
 *                               must take a path the tools can follow.
 *
 * Without GORO_VALGRIND they expand to nothing. With it, each is a few
 * instructions when the program does not run under valgrind.
 */
#ifndef GORO_ANNOTATE_H
#define GORO_ANNOTATE_H

#ifdef GORO_VALGRIND

#include <valgrind/helgrind.h>

/* DRD honours Helgrind's happens-before requests but has an ignore request
 * of its own: VG_USERREQ__DRD_START_SUPPRESSION of <valgrind/drd.h>, whose
 * values are a frozen ABI. That header is not included because its
 * ANNOTATE_ macros clash with helgrind.h's. */
#define GORO__DRD_START_SUPPRESSION (VG_USERREQ_TOOL_BASE('D', 'R') + 2)

#define GORO__VALGRIND             1
#define GORO__HAPPENS_BEFORE(addr) ANNOTATE_HAPPENS_BEFORE(addr)
#define GORO__HAPPENS_AFTER(addr)  ANNOTATE_HAPPENS_AFTER(addr)
#define GORO__IGNORE_VAR(lvalue)                                                                   \
  do {                                                                                             \
    VALGRIND_HG_DISABLE_CHECKING(&(lvalue), sizeof(lvalue));                                       \
    VALGRIND_DO_CLIENT_REQUEST_STMT(GORO__DRD_START_SUPPRESSION, &(lvalue), sizeof(lvalue), 0, 0,  \
                                    0);                                                            \
  } while (0)
#define GORO__IGNORE_STATIC(var)                                                                   \
  __attribute__((constructor)) static void ignore_##var(void)                                      \
  {                                                                                                \
    GORO__IGNORE_VAR(var);                                                                         \
  }                                                                                                \
  _Static_assert(1, #var)

#else

#define GORO__VALGRIND             0
#define GORO__HAPPENS_BEFORE(addr) ((void)0)
#define GORO__HAPPENS_AFTER(addr)  ((void)0)
#define GORO__IGNORE_VAR(lvalue)   ((void)0)
#define GORO__IGNORE_STATIC(var)   _Static_assert(1, #var)

#endif

/* ---- atomics paired with what they tell valgrind ------------------------ */

#include <stdatomic.h>
#include <stddef.h>

/* Drop one reference from *refs; returns the count before the drop (1:
 * the caller held the last one and may free). acq_rel: the last dropper
 * sees every write the other holders made before their drops. */
static inline size_t
goro__ref_drop(_Atomic size_t *refs)
{
  GORO__HAPPENS_BEFORE(refs); /* valgrind: the release of the decrement */
  size_t old = atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel);
  if (old == 1)
    GORO__HAPPENS_AFTER(refs); /* valgrind: its acquire, by the last one */
  return old;
}

#endif

/* seen.c - the crawlers' seen map with exercise 8.6's depth (seen.h).
 *
 * A hash table (open addressing, linear probing, power-of-two size, at
 * most half full) of entries, one per URL ever seen.
 *
 * Invariants, after every seen_add:
 *   e->depth is the length of the shortest path from a start URL to e
 *   through the pages whose links are known (e->kids);
 *   e->queued iff e was handed out, and then it stays so; without a
 *   limit every entry is handed out when first seen, with one every
 *   entry with depth <= maxdepth is;
 *   e->kids is set (with a depth limit only) once the links of e's page
 *   arrived, and e->kids[i]->depth <= e->depth + 1.
 */
#include "config.h"

#include "seen.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  char *url;
  int depth;     /* the best known; INT_MAX until reached */
  bool queued;   /* handed out to be crawled */
  bool expanded; /* kids holds the page's links */
  size_t nkids;
  struct entry **kids; /* the page's links (with a depth limit) */
};

struct seen {
  int maxdepth;      /* INT_MAX: no limit */
  size_t cap, count; /* slots of table, entries in it */
  struct entry **table;
  const char **todo; /* what seen_add hands out */
  size_t ntodo, todocap;
  struct entry **stack; /* seen_add's relaxation work list */
  size_t nstack, stackcap;
};

struct seen *
seen_make(int maxdepth)
{
  struct seen *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->maxdepth = maxdepth < 0 ? INT_MAX : maxdepth;
  s->cap = 1024;
  s->table = calloc(s->cap, sizeof *s->table);
  if (s->table == NULL) {
    free(s);
    return NULL;
  }
  return s;
}

void
seen_free(struct seen *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->cap; i++) {
    struct entry *e = s->table[i];
    if (e != NULL) {
      free(e->url);
      free(e->kids);
      free(e);
    }
  }
  free(s->table);
  free(s->todo);
  free(s->stack);
  free(s);
}

static size_t
hash(const char *k)
{
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  for (; *k != '\0'; k++)
    h = (h ^ (unsigned char)*k) * 1099511628211ull;
  return (size_t)(h ^ (h >> 32));
}

static struct entry **
slot(struct entry **table, size_t cap, const char *url)
{
  size_t i = hash(url) & (cap - 1);
  while (table[i] != NULL && strcmp(table[i]->url, url) != 0)
    i = (i + 1) & (cap - 1);
  return &table[i];
}

static int
grow(struct seen *s)
{
  size_t cap = 2 * s->cap;
  struct entry **t = calloc(cap, sizeof *t);
  if (t == NULL)
    return -1;
  for (size_t i = 0; i < s->cap; i++)
    if (s->table[i] != NULL)
      *slot(t, cap, s->table[i]->url) = s->table[i];
  free(s->table);
  s->table = t;
  s->cap = cap;
  return 0;
}

/* The entry of url, made (taking url) if new; else url is freed. */
static struct entry *
intern(struct seen *s, char *url)
{
  struct entry **p = slot(s->table, s->cap, url);
  if (*p != NULL) {
    free(url);
    return *p;
  }
  if (2 * (s->count + 1) > s->cap) {
    if (grow(s) != 0)
      goto fail;
    p = slot(s->table, s->cap, url);
  }
  struct entry *e = calloc(1, sizeof *e);
  if (e == NULL)
    goto fail;
  e->url = url;
  e->depth = INT_MAX;
  *p = e;
  s->count++;
  return e;
fail:
  free(url);
  return NULL;
}

static int
push(void ***v, size_t *n, size_t *cap, void *x)
{
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 64;
    void **nv = realloc(*v, c * sizeof **v);
    if (nv == NULL)
      return -1;
    *v = nv;
    *cap = c;
  }
  (*v)[(*n)++] = x;
  return 0;
}

/* e is reachable in depth links: record it, hand e out if it is now
 * within the limit, and queue e for relaxation if its links are known. */
static int
reach(struct seen *s, struct entry *e, int depth)
{
  if (depth >= e->depth)
    return 0;
  e->depth = depth;
  if (!e->queued && depth <= s->maxdepth) {
    e->queued = true;
    if (push((void ***)&s->todo, &s->ntodo, &s->todocap, e->url) != 0)
      return -1;
  }
  if (e->expanded && push((void ***)&s->stack, &s->nstack, &s->stackcap, e) != 0)
    return -1;
  return 0;
}

int
seen_add(struct seen *s, struct links *list, const char *const **todo, size_t *ntodo)
{
  int rc = 0;
  s->ntodo = 0;
  s->nstack = 0;
  struct entry *from = NULL;
  if (list->from != NULL) {
    from = *slot(s->table, s->cap, list->from);
    if (s->maxdepth != INT_MAX && !from->expanded) {
      from->kids = calloc(list->n ? list->n : 1, sizeof *from->kids);
      if (from->kids == NULL)
        rc = -1;
    }
  }
  int depth = from != NULL ? (from->depth < INT_MAX ? from->depth + 1 : INT_MAX) : 0;
  for (size_t i = 0; i < list->n; i++) {
    struct entry *e = intern(s, list->v[i]);
    list->v[i] = NULL;
    if (e == NULL) {
      rc = -1;
      continue;
    }
    if (from != NULL && from->kids != NULL && !from->expanded)
      from->kids[from->nkids++] = e;
    if (reach(s, e, depth) != 0)
      rc = -1;
  }
  if (from != NULL && from->kids != NULL)
    from->expanded = true;
  list->n = 0;
  links_free(list);

  /* Relaxation: carry each improved depth through the links known. Every
   * push lowers an entry's depth, which is bounded below by 0, so this
   * ends; in practice an improvement is rare and short. */
  while (s->nstack > 0) {
    struct entry *e = s->stack[--s->nstack];
    for (size_t i = 0; i < e->nkids; i++)
      if (reach(s, e->kids[i], e->depth + 1) != 0)
        rc = -1;
  }
  *todo = s->todo;
  *ntodo = s->ntodo;
  return rc;
}

/* links.c - the book's links.Extract, and exercise 8.7's mirror (links.h).
 *
 * A mirrored URL's file, relative to the mirror directory, is
 * HOST[:PORT]/SEG/.../NAME: the URL's path split at '/', each segment
 * percent-decoded (kept as written when decoding would give a '/', a NUL,
 * "." or ".."), empty segments dropped, except that a path ending in '/'
 * gets NAME index.html; a query is kept in the name after a '?' (its '/'
 * written %2F). The file depends on the URL alone, so a page's links can
 * be rewritten before the pages they point to are fetched. A link is
 * rewritten to the relative path from the page's file to the target's
 * file, each segment percent-encoded (so "x.html?id=2" is written
 * "x.html%3Fid%3D2", which a browser decodes back to the file's name),
 * with the link's fragment kept. Two URLs whose files collide as a file
 * and a directory (/a and /a/b) cannot both be saved: the second fails
 * and is reported.
 *
 * Nothing here is shared between goroutines but the mirror, which is
 * read-only once made, and the directory tree, where concurrent mkdir of
 * the same directory is harmless (EEXIST is success).
 */
#include "config.h"

#include "links.h"

#include "tool.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A page longer than this is not crawled (it fails). */
#define MAX_PAGE (32u << 20)

/* ---- lists -------------------------------------------------------------- */

struct links *
links_new(const char *from)
{
  struct links *l = calloc(1, sizeof *l);
  if (l != NULL)
    l->from = from;
  return l;
}

int
links_push(struct links *l, char *url)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL) {
      free(url);
      return -1;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = url;
  return 0;
}

void
links_free(struct links *l)
{
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  free(l);
}

/* ---- setup ------------------------------------------------------------- */

void
links_setup(void)
{
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    tool_fatal("curl_global_init failed");
  xmlInitParser();
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void
links_print(const char *url)
{
  links_print_failed(printf("%s\n", url));
}

void
links_print_failed(int rc)
{
  if (rc < 0) {
    int e = errno;
    tool_warn("writing stdout: %s", strerror(e));
    _exit(1); /* at once: goroutines are still using libcurl, and stdout is broken */
  }
}

void
links_cleanup(void)
{
  xmlCleanupParser();
  curl_global_cleanup();
}

struct links *
links_args(char **argv, int n)
{
  if (n <= 0)
    tool_usage_error("no URL given");
  struct links *l = links_new(NULL);
  if (l == NULL)
    tool_fatal("%s", strerror(ENOMEM));
  for (int i = 0; i < n; i++) {
    char *u = url_normalize(argv[i]);
    if (u == NULL)
      tool_usage_error("not an http or https URL: %s", argv[i]);
    if (links_push(l, u) != 0)
      tool_fatal("%s", strerror(ENOMEM));
  }
  return l;
}

/* ---- URLs (curl_url) ---------------------------------------------------- */

/* A malloc'd copy of part of u, or NULL when u has no such part. */
static char *
url_part(CURLU *u, CURLUPart what, unsigned flags)
{
  char *s = NULL;
  if (curl_url_get(u, what, &s, flags) != CURLUE_OK)
    return NULL;
  char *d = strdup(s);
  curl_free(s);
  return d;
}

static bool
is_web(CURLU *u)
{
  char *scheme = url_part(u, CURLUPART_SCHEME, 0);
  bool ok = scheme != NULL && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
  free(scheme);
  return ok;
}

/* Resolves href against base (NULL: href must be absolute), as a browser
 * does (RFC 3986, section 5.2): surrounding whitespace ignored. Returns a
 * new handle of an http or https URL, or NULL. */
static CURLU *
resolve(CURLU *base, const char *href)
{
  while (*href == ' ' || *href == '\t' || *href == '\n' || *href == '\r' || *href == '\f')
    href++;
  size_t n = strlen(href);
  while (n > 0 && strchr(" \t\n\r\f", href[n - 1]) != NULL)
    n--;
  if (n == 0)
    return NULL; /* "" is the page itself */
  char *s = strndup(href, n);
  CURLU *u = base != NULL ? curl_url_dup(base) : curl_url();
  if (s == NULL || u == NULL)
    goto fail;
  /* curl_url_set resolves a reference of a fragment alone as if it were
   * a relative path ("#s" against http://a/b/c/d gives http://a/b/c/#s);
   * RFC 3986 keeps the base's path and query. */
  if (s[0] == '#' && base != NULL) {
    if (curl_url_set(u, CURLUPART_FRAGMENT, s[1] != '\0' ? s + 1 : NULL, 0) != CURLUE_OK)
      goto fail;
  } else if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK) {
    goto fail;
  }
  if (!is_web(u))
    goto fail;
  /* curl_url keeps the host's case; a host name is case-insensitive. */
  char *host = url_part(u, CURLUPART_HOST, 0);
  if (host == NULL)
    goto fail;
  for (char *h = host; *h != '\0'; h++)
    if (*h >= 'A' && *h <= 'Z')
      *h = (char)(*h - 'A' + 'a');
  CURLUcode rc = curl_url_set(u, CURLUPART_HOST, host, 0);
  free(host);
  if (rc != CURLUE_OK)
    goto fail;
  free(s);
  return u;
fail:
  free(s);
  curl_url_cleanup(u);
  return NULL;
}

/* u's normal form (u loses its fragment). */
static char *
url_string(CURLU *u)
{
  curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
  return url_part(u, CURLUPART_URL, CURLU_NO_DEFAULT_PORT);
}

char *
url_normalize(const char *raw)
{
  CURLU *u = resolve(NULL, raw);
  if (u == NULL) {
    errno = EINVAL;
    return NULL;
  }
  char *s = url_string(u);
  curl_url_cleanup(u);
  if (s == NULL)
    errno = EINVAL;
  return s;
}

/* "HOST" or "HOST:PORT" as u writes it, malloc'd; NULL without a host. */
static char *
url_hostport(CURLU *u)
{
  char *host = url_part(u, CURLUPART_HOST, 0);
  if (host == NULL)
    return NULL;
  char *port = url_part(u, CURLUPART_PORT, CURLU_NO_DEFAULT_PORT);
  char *hp = NULL;
  if (port == NULL)
    hp = host;
  else if (asprintf(&hp, "%s:%s", host, port) < 0)
    hp = NULL;
  if (hp != host)
    free(host);
  free(port);
  return hp;
}

/* ---- mirror ------------------------------------------------------------- */

struct mirror {
  char *dir;
  size_t nhosts;
  char **hosts; /* HOST[:PORT] of each start URL */
};

void
mirror_free(struct mirror *m)
{
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->nhosts; i++)
    free(m->hosts[i]);
  free(m->hosts);
  free(m->dir);
  free(m);
}

/* mkdir -p of every directory of path up to its last '/'. */
static int
make_parents(char *path)
{
  for (char *s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
    *s = '\0';
    int rc = mkdir(path, 0777);
    int e = errno;
    *s = '/';
    if (rc != 0 && e != EEXIST) {
      errno = e;
      return -1;
    }
  }
  return 0;
}

struct mirror *
mirror_make(const char *dir, char **urls, size_t n)
{
  struct mirror *m = calloc(1, sizeof *m);
  if (m == NULL)
    return NULL;
  m->dir = strdup(dir);
  m->hosts = calloc(n ? n : 1, sizeof *m->hosts);
  if (m->dir == NULL || m->hosts == NULL)
    goto fail;
  char *slashed = NULL;
  if (asprintf(&slashed, "%s/", dir) < 0)
    goto fail;
  int rc = make_parents(slashed); /* mkdir -p dir */
  free(slashed);
  if (rc != 0)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    CURLU *u = resolve(NULL, urls[i]);
    char *hp = u != NULL ? url_hostport(u) : NULL;
    curl_url_cleanup(u);
    if (hp == NULL) {
      errno = EINVAL;
      goto fail;
    }
    m->hosts[m->nhosts++] = hp;
  }
  return m;
fail:
  mirror_free(m);
  return NULL;
}

static bool
mirror_has_url(const struct mirror *m, CURLU *u)
{
  char *hp = url_hostport(u);
  bool in = false;
  for (size_t i = 0; hp != NULL && i < m->nhosts && !in; i++)
    in = strcmp(hp, m->hosts[i]) == 0;
  free(hp);
  return in;
}

bool
mirror_has(const struct mirror *m, const char *url)
{
  CURLU *u = resolve(NULL, url);
  bool in = u != NULL && mirror_has_url(m, u);
  curl_url_cleanup(u);
  return in;
}

static int
hexval(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Appends the n bytes of seg to the file name being built in *b (len *bl),
 * percent-decoded unless that would make it unsafe as a name. */
static int
append_segment(char **b, size_t *bl, const char *seg, size_t n)
{
  char *d = malloc(n + 1);
  if (d == NULL)
    return -1;
  size_t k = 0;
  bool safe = true;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (seg[i] == '%' && i + 2 < n && (hi = hexval(seg[i + 1])) >= 0 &&
        (lo = hexval(seg[i + 2])) >= 0) {
      d[k] = (char)(hi * 16 + lo);
      if (d[k] == '/' || d[k] == '\0')
        safe = false;
      k++;
      i += 2;
    } else {
      d[k++] = seg[i];
    }
  }
  d[k] = '\0';
  if (strcmp(d, ".") == 0 || strcmp(d, "..") == 0)
    safe = false;
  const char *src = safe ? d : seg;
  size_t len = safe ? k : n;
  char *nb = realloc(*b, *bl + len + 2);
  if (nb == NULL) {
    free(d);
    return -1;
  }
  memcpy(nb + *bl, src, len);
  *bl += len;
  nb[*bl] = '\0';
  *b = nb;
  free(d);
  return 0;
}

/* The file of u, relative to the mirror directory (see the top of this
 * file), malloc'd; NULL on failure. */
static char *
mirror_file(CURLU *u)
{
  char *b = url_hostport(u);
  if (b == NULL)
    return NULL;
  size_t bl = strlen(b);
  char *path = url_part(u, CURLUPART_PATH, 0);
  char *query = url_part(u, CURLUPART_QUERY, 0);
  if (path == NULL)
    goto fail;
  /* Segments between slashes; the last one (after the last '/') is the
   * name, index.html when empty. */
  const char *p = path;
  for (;;) {
    while (*p == '/')
      p++;
    const char *e = strchr(p, '/');
    if (e == NULL)
      break;
    if (append_segment(&b, &bl, "/", 1) != 0 || append_segment(&b, &bl, p, (size_t)(e - p)) != 0)
      goto fail;
    p = e;
  }
  if (append_segment(&b, &bl, "/", 1) != 0 ||
      append_segment(&b, &bl, *p != '\0' ? p : "index.html", *p != '\0' ? strlen(p) : 10) != 0)
    goto fail;
  if (query != NULL) {
    if (append_segment(&b, &bl, "?", 1) != 0)
      goto fail;
    for (const char *q = query; *q != '\0'; q++) {
      const char *piece = *q == '/' ? "%2F" : q;
      if (append_segment(&b, &bl, piece, *q == '/' ? 3 : 1) != 0)
        goto fail;
    }
  }
  free(path);
  free(query);
  return b;
fail:
  free(b);
  free(path);
  free(query);
  return NULL;
}

/* Appends seg (n bytes) percent-encoded but for unreserved characters. */
static void
put_encoded(FILE *out, const char *seg, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)seg[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~')
      fputc(c, out);
    else
      fprintf(out, "%%%02X", c);
  }
}

/* The relative reference from the file `from` to the file `to` (both
 * relative to the mirror directory), plus "#frag" when frag is not NULL;
 * malloc'd. */
static char *
relative_ref(const char *from, const char *to, const char *frag)
{
  /* Skip the directories both share. */
  size_t common = 0;
  for (size_t i = 0; from[i] != '\0' && from[i] == to[i]; i++)
    if (from[i] == '/')
      common = i + 1;
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  if (out == NULL)
    return NULL;
  for (const char *s = from + common; (s = strchr(s, '/')) != NULL; s++)
    fputs("../", out);
  const char *s = to + common;
  for (const char *e; (e = strchr(s, '/')) != NULL; s = e + 1) {
    put_encoded(out, s, (size_t)(e - s));
    fputc('/', out);
  }
  put_encoded(out, s, strlen(s));
  if (frag != NULL) {
    fputc('#', out);
    fputs(frag, out);
  }
  if (fclose(out) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* Writes data to m->dir/file, through a temporary file renamed into place
 * (two URLs may share a file, as /d/ and /d/index.html: the last one
 * saved wins, never a mix); reports a failure on stderr. */
static void
mirror_save(const struct mirror *m, const char *url, const char *file, const void *data, size_t len)
{
  char *path = NULL, *tmp = NULL;
  if (asprintf(&path, "%s/%s", m->dir, file) < 0 || asprintf(&tmp, "%s.XXXXXX", path) < 0) {
    tool_warn("saving %s: %s", url, strerror(ENOMEM));
    free(path);
    return;
  }
  int fd = -1;
  const char *what = path;
  if (make_parents(path) != 0)
    goto fail;
  what = tmp;
  if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
    goto fail;
  if (tool_write_all(fd, data, len) != 0 || fchmod(fd, 0644) != 0)
    goto fail_unlink;
  int rc = close(fd);
  fd = -1;
  if (rc != 0)
    goto fail_unlink;
  what = path;
  if (rename(tmp, path) != 0)
    goto fail_unlink;
  free(path);
  free(tmp);
  return;
fail_unlink:;
  int e = errno;
  unlink(tmp);
  errno = e;
fail:
  tool_warn("saving %s: %s: %s", url, what, strerror(errno));
  if (fd >= 0)
    close(fd);
  free(path);
  free(tmp);
}

/* ---- Extract ------------------------------------------------------------ */

static bool
is_html(const char *type)
{
  if (type == NULL)
    return true; /* as the book: parse whatever came */
  for (const char *s = type; *s != '\0' && *s != ';'; s++)
    if (strncasecmp(s, "html", 4) == 0)
      return true;
  return false;
}

/* One <a href>: appends its target to out; with a mirror, rewrites href
 * to the target's file (page_file is the page's own). -1: out of memory. */
static int
visit_anchor(xmlNode *a, CURLU *base, const struct mirror *m, const char *page_file,
             struct links *out)
{
  xmlChar *href = xmlGetProp(a, (const xmlChar *)"href");
  if (href == NULL)
    return 0;
  CURLU *u = resolve(base, (const char *)href);
  xmlFree(href);
  if (u == NULL)
    return 0;
  int rc = 0;
  if (m != NULL && !mirror_has_url(m, u))
    goto done;
  char *frag = m != NULL ? url_part(u, CURLUPART_FRAGMENT, 0) : NULL;
  char *s = url_string(u);
  if (s == NULL || links_push(out, s) != 0) {
    free(frag);
    rc = -1;
    goto done;
  }
  if (m != NULL && page_file != NULL) {
    char *file = mirror_file(u);
    char *ref = file != NULL ? relative_ref(page_file, file, frag) : NULL;
    if (ref != NULL)
      xmlSetProp(a, (const xmlChar *)"href", (const xmlChar *)ref);
    free(ref);
    free(file);
  }
  free(frag);
done:
  curl_url_cleanup(u);
  return rc;
}

/* Visits every <a> of doc in document order (iteratively: no recursion
 * on the document's depth). */
static int
walk(htmlDocPtr doc, CURLU *base, const struct mirror *m, const char *page_file, struct links *out)
{
  xmlNode *n = doc->children;
  while (n != NULL) {
    if (n->type == XML_ELEMENT_NODE && xmlStrcasecmp(n->name, (const xmlChar *)"a") == 0 &&
        visit_anchor(n, base, m, page_file, out) != 0)
      return -1;
    if (n->children != NULL && n->type == XML_ELEMENT_NODE) {
      n = n->children;
      continue;
    }
    while (n != NULL && n->next == NULL)
      n = n->parent != (xmlNode *)doc ? n->parent : NULL;
    if (n != NULL)
      n = n->next;
  }
  return 0;
}

enum fetch_result
links_extract(struct fetcher *f, const char *url, const struct mirror *m, struct links **out,
              char *err, size_t errlen)
{
  *out = NULL;
  struct page p;
  enum fetch_result r = fetch_get(f, url, MAX_PAGE, &p, err, errlen);
  if (r != FETCH_OK)
    return r;

  struct links *list = links_new(url);
  CURLU *base = curl_url();
  char *page_file = NULL;
  if (m != NULL) {
    CURLU *self = resolve(NULL, url);
    page_file = self != NULL ? mirror_file(self) : NULL;
    curl_url_cleanup(self);
  }
  if (list == NULL || base == NULL || (m != NULL && page_file == NULL) ||
      curl_url_set(base, CURLUPART_URL, p.url, 0) != CURLUE_OK)
    goto nomem;

  htmlDocPtr doc = NULL;
  if (is_html(p.type) && p.len <= INT_MAX)
    doc = htmlReadMemory(p.body, (int)p.len, p.url, NULL,
                         HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
  if (doc != NULL && walk(doc, base, m, page_file, list) != 0) {
    xmlFreeDoc(doc);
    goto nomem;
  }
  if (m != NULL) {
    xmlChar *mem = NULL;
    int size = 0;
    if (doc != NULL)
      htmlDocDumpMemoryFormat(doc, &mem, &size, 0);
    if (mem != NULL)
      mirror_save(m, url, page_file, mem, (size_t)size);
    else
      mirror_save(m, url, page_file, p.body, p.len);
    xmlFree(mem);
  }
  if (doc != NULL)
    xmlFreeDoc(doc);
  free(page_file);
  curl_url_cleanup(base);
  page_clear(&p);
  *out = list;
  return FETCH_OK;

nomem:
  free(page_file);
  curl_url_cleanup(base);
  links_free(list);
  page_clear(&p);
  snprintf(err, errlen, "getting %s: %s", url, strerror(ENOMEM));
  return FETCH_FAILED;
}

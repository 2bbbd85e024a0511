/* links.h - the book's links package (gopl.io/ch5/links): Extract fetches
 * a page and returns the links of its HTML, resolved to absolute URLs;
 * plus exercise 8.7's mirror (save the pages of the start URLs' hosts with
 * the links among them rewritten to relative paths of the saved files).
 *
 * URLs are parsed, resolved and normalised by libcurl's URL API (curl_url);
 * HTML by libxml2's HTML parser. Call curl_global_init and xmlInitParser
 * once in main before any goroutine starts.
 */
#ifndef GORO_CRAWL_LINKS_H
#define GORO_CRAWL_LINKS_H

#include "fetch.h"

#include <stddef.h>

/* A list of links: what the crawlers' worklist carries (the book's
 * []string), with the page it came from. */
struct links {
  const char *from; /* the URL of the page they are on, not owned; NULL for the start URLs */
  size_t n, cap;
  char **v; /* n absolute URLs, each malloc'd, owned by the list */
};

struct links *links_new(const char *from);  /* NULL on failure */
int links_push(struct links *l, char *url); /* takes url (freed on failure); 0 or -1 */
void links_free(struct links *l);           /* NULL is a no-op */

/* The normal form of an absolute http or https URL (as crawled, printed
 * and compared): scheme and host in lower case, the default port and the
 * fragment dropped, dot segments resolved, an empty path made "/". Returns
 * a malloc'd string, or NULL for anything else (errno EINVAL). */
char *url_normalize(const char *raw);

/* Exercise 8.7: the directory to save into and the hosts (as the URLs
 * write them, with their port) whose pages are crawled and saved. */
struct mirror;

/* Makes dir (and its parents) if need be. NULL and errno on failure
 * (EINVAL: a URL without a host). */
struct mirror *mirror_make(const char *dir, char **urls, size_t n);
void mirror_free(struct mirror *m);
/* Whether the (normal) url is on one of m's hosts. */
bool mirror_has(const struct mirror *m, const char *url);

/* The book's links.Extract: GET url with f, parse the body (if it is HTML)
 * and return its <a href> links in *out (from = url; http and https only,
 * normalised; in document order, duplicates kept). With a mirror m, only
 * links on m's hosts are returned, and the page is saved under m's
 * directory with those links rewritten; a failure to save is reported on
 * stderr and does not fail the call. On FETCH_FAILED, err holds the
 * reason; *out is NULL unless FETCH_OK. */
enum fetch_result links_extract(struct fetcher *f, const char *url, const struct mirror *m,
                                struct links **out, char *err, size_t errlen);

/* What every crawler's main does first, after tool_init and before any
 * goroutine: curl_global_init, xmlInitParser, stdout line-buffered (a URL
 * is visible as soon as it is printed), and SIGINT and SIGTERM unblocked
 * (tool_init blocks them; a crawler has nothing to clean up on them, and
 * ends at once, as the book's Go program does). Exits 1 on failure. */
void links_setup(void);

/* fmt.Println(url), checked: when stdout fails (a reader that went away)
 * the crawler ends with exit status 1 and a message, as a Go program
 * ends on EPIPE, rather than crawl on with nobody reading. */
void links_print(const char *url);

/* What links_print does when printf returned rc < 0. */
void links_print_failed(int rc);

/* Undoes links_setup's libraries, after every goroutine has ended. */
void links_cleanup(void);

/* The start URLs argv[0..n-1], normalised, as a list with from NULL. No
 * URL, or one that is not http or https, is a usage error (exit 2). */
struct links *links_args(char **argv, int n);

#endif /* GORO_CRAWL_LINKS_H */

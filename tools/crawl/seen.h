/* seen.h - the crawlers' `seen := make(map[string]bool)`, grown for
 * exercise 8.6's depth limit.
 *
 * Without a limit it is the book's map: a link is crawled the first time
 * it is seen. With -depth N a URL is crawled when it is at most N links
 * from a start URL by the shortest path, whatever order the fetches end
 * in. Fetches end out of order, so a URL may first be seen by a long path
 * and later by a shorter one: the map keeps each URL's best depth so far
 * and each crawled page's links; when a shorter path to a page appears,
 * the better depth is carried on through the links already known (and a
 * page that was too deep to crawl is crawled once it is no longer). What
 * it crawls is then exactly what a breadth-first search to depth N would.
 *
 * Used by main alone (the goroutine that ranges over the worklist).
 */
#ifndef GORO_CRAWL_SEEN_H
#define GORO_CRAWL_SEEN_H

#include "links.h"

#include <stddef.h>

struct seen;

/* maxdepth < 0: no limit. NULL and errno on failure. */
struct seen *seen_make(int maxdepth);

/* Frees s and every URL it handed out; after the last crawl is done. */
void seen_free(struct seen *s);

/* Takes list (the start URLs when list->from is NULL, else the links found
 * on the page list->from, a URL s handed out) and sets *todo to the URLs
 * to crawl now, *ntodo of them: each URL is handed out once, ever. The
 * URLs stay valid until seen_free; the array until the next call.
 * 0, or -1 when out of memory. */
int seen_add(struct seen *s, struct links *list, const char *const **todo, size_t *ntodo);

#endif /* GORO_CRAWL_SEEN_H */

/* tbuf.h — a per-thread cache of malloc'd answer and body buffers. Answers
 * are freed right after they are sent, on the connection's MHD thread, and
 * the next request on that thread asks for a buffer of about the same size:
 * handing the same memory back keeps it hot, where a fresh malloc at the
 * heap top (results kept in the store fill the holes) grows the heap and
 * faults pages in on every request. Any thread; each has its own cache. */
#ifndef CV_TBUF_H
#define CV_TBUF_H

#include <stddef.h>

#define CV_TBUF_KEEP 4                   /* buffers kept per thread */
#define CV_TBUF_MAX ((size_t)1 << 20)    /* larger ones are freed, not kept */

/* A malloc'd buffer of at least n bytes (its usable size in *cap): a kept
 * one when one fits, else a new one; NULL when out of memory. Give it back
 * with cv_tbuf_put or free (it is a plain malloc block, realloc works). */
void *cv_tbuf_get(size_t n, size_t *cap);
/* Keeps p for this thread's next cv_tbuf_get, or frees it (NULL is fine).
 * Fits MHD_create_response_from_buffer_with_free_callback. */
void cv_tbuf_put(void *p);

#endif

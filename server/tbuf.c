/* tbuf.c — the per-thread buffer cache: a small array in a pthread key (its
 * destructor frees what a thread still keeps when it ends); sizes come from
 * malloc_usable_size. Also pads the thread's malloc heap: glibc grows a
 * thread arena's heap a page at a time (M_TOP_PAD is the main arena's), and
 * results kept in the store make the heaps of MHD threads grow on every
 * request: one mprotect and a few page faults each. Every CV_TBUF_PAD_EVERY
 * buffers, a CV_TBUF_PAD block is allocated, its pages populated in one
 * madvise, and freed: the heap then grows a slab at a time, prefaulted.
 * Any thread. */
#include "tbuf.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define CV_TBUF_PAD ((size_t)2 << 20)   /* below M_MMAP_THRESHOLD (convoyd's main), so from the heap */
#define CV_TBUF_PAD_EVERY 64

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23          /* Linux 5.14; older kernels say EINVAL: the pad still helps */
#endif

typedef struct {
  int n;
  void *buf[CV_TBUF_KEEP];
  unsigned calls;
} tbuf_cache_t;

static void pad_heap(void) {
  char *p = malloc(CV_TBUF_PAD);
  if (!p) return;
  long pg = sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
  uintptr_t e = ((uintptr_t)p + CV_TBUF_PAD) & ~((uintptr_t)pg - 1);
  if (pg > 0 && e > a) (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
  free(p);
}

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p) {
  tbuf_cache_t *c = p;
  for (int i = 0; i < c->n; i++) free(c->buf[i]);
  free(c);
}

static void key_init(void) { pthread_key_create(&key, cache_free); }

static tbuf_cache_t *cache(void) {
  pthread_once(&key_once, key_init);
  tbuf_cache_t *c = pthread_getspecific(key);
  if (!c && (c = calloc(1, sizeof *c)) && pthread_setspecific(key, c) != 0) {
    free(c);
    c = NULL;
  }
  return c;
}

void *cv_tbuf_get(size_t n, size_t *cap) {
  tbuf_cache_t *c = cache();
  if (c && c->calls++ % CV_TBUF_PAD_EVERY == 0) pad_heap();
  int best = -1;
  size_t best_sz = 0;
  for (int i = 0; c && i < c->n; i++) {   /* the smallest kept buffer that fits */
    size_t sz = malloc_usable_size(c->buf[i]);
    if (sz >= n && (best < 0 || sz < best_sz)) {
      best = i;
      best_sz = sz;
    }
  }
  if (best >= 0) {
    void *p = c->buf[best];
    c->buf[best] = c->buf[--c->n];
    if (cap) *cap = best_sz;
    return p;
  }
  void *p = malloc(n ? n : 1);
  if (p && cap) *cap = malloc_usable_size(p);
  return p;
}

void cv_tbuf_put(void *p) {
  if (!p) return;
  tbuf_cache_t *c = malloc_usable_size(p) <= CV_TBUF_MAX ? cache() : NULL;
  if (!c) {
    free(p);
    return;
  }
  if (c->n == CV_TBUF_KEEP) {   /* full: drop the smallest, keep the larger */
    int small = 0;
    for (int i = 1; i < c->n; i++)
      if (malloc_usable_size(c->buf[i]) < malloc_usable_size(c->buf[small])) small = i;
    if (malloc_usable_size(c->buf[small]) >= malloc_usable_size(p)) {
      free(p);
      return;
    }
    free(c->buf[small]);
    c->buf[small] = c->buf[--c->n];
  }
  c->buf[c->n++] = p;
}

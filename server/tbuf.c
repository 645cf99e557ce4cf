/* tbuf.c — the per-thread buffer cache: a small array in a pthread key (its
 * destructor frees what a thread still keeps when it ends); sizes come from
 * malloc_usable_size. Each buffer handed out counts one unit towards
 * padding the thread's heap (cv_heap_tick): results kept in the store make
 * the MHD threads' heaps grow on every request. Any thread. */
#include "tbuf.h"

#include "../engine/process.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
  int n;
  void *buf[CV_TBUF_KEEP];
} tbuf_cache_t;

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
  cv_heap_tick(1);
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

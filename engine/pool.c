/* pool.c — the output buffer cache; see pool.h. One mutex guards the free
 * list; allocation and page touching happen outside it. */
#include "pool.h"

#include "process.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CV_POOL_ALIGN (2u << 20) /* huge-page aligned, so whole 2 MiB runs can be huge pages */
#define CV_POOL_GRAIN 4096u      /* sizes round up to pages only: peak memory stays near the need */

typedef struct block_s {
  struct block_s *next;
  void *p;
  size_t cap;
} block_t;

struct cv_pool_s {
  atomic_int refs;
  pthread_mutex_t mu;
  block_t *free_list; /* most recently released first */
  size_t cached, max_cached;
};

int cv_pool_new(cv_pool_t **out, size_t max_cached_bytes) {
  cv_pool_t *p = calloc(1, sizeof *p);
  if (!p) return -CV_EOUT_OF_MEMORY;
  atomic_init(&p->refs, 1);
  pthread_mutex_init(&p->mu, NULL);
  p->max_cached = max_cached_bytes;
  *out = p;
  return 0;
}

static void pool_free(cv_pool_t *p) {
  for (block_t *b = p->free_list, *n; b; b = n) {
    n = b->next;
    free(b->p);
    free(b);
  }
  pthread_mutex_destroy(&p->mu);
  free(p);
}

void cv_pool_unref(cv_pool_t *p) {
  if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) pool_free(p);
}

size_t cv_pool_cached_bytes(cv_pool_t *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = p->cached;
  pthread_mutex_unlock(&p->mu);
  return n;
}

/* Takes a cached buffer of exactly cap bytes; NULL when there is none. */
static void *take(cv_pool_t *p, size_t cap) {
  void *mem = NULL;
  pthread_mutex_lock(&p->mu);
  for (block_t **pp = &p->free_list; *pp; pp = &(*pp)->next)
    if ((*pp)->cap == cap) {
      block_t *b = *pp;
      *pp = b->next;
      p->cached -= cap;
      mem = b->p;
      free(b);
      break;
    }
  pthread_mutex_unlock(&p->mu);
  return mem;
}

/* Keeps a released buffer, dropping the oldest ones past the cap. */
static void give(cv_pool_t *p, void *mem, size_t cap) {
  block_t *b = malloc(sizeof *b);
  if (!b || cap > p->max_cached) {
    free(b);
    free(mem);
    return;
  }
  b->p = mem;
  b->cap = cap;
  block_t *drop = NULL;
  pthread_mutex_lock(&p->mu);
  b->next = p->free_list;
  p->free_list = b;
  p->cached += cap;
  if (p->cached > p->max_cached) { /* cut the tail (oldest) until under the cap */
    size_t keep = 0;
    block_t **pp = &p->free_list;
    while (*pp && keep + (*pp)->cap <= p->max_cached) {
      keep += (*pp)->cap;
      pp = &(*pp)->next;
    }
    drop = *pp;
    *pp = NULL;
    p->cached = keep;
  }
  pthread_mutex_unlock(&p->mu);
  for (block_t *n; drop; drop = n) {
    n = drop->next;
    free(drop->p);
    free(drop);
  }
}

static void release_pooled(cv_tensor_t *t) {
  cv_pool_t *p = t->owner;
  give(p, t->a.data, t->owner_len);
  cv_pool_unref(p);
}

int cv_tensor_new_pooled(cv_pool_t *p, cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape,
                         cv_error_t *err) {
  size_t nbytes;
  int rc = cv_shape_check(dt, ndim, shape, 0, &nbytes, "shape", err);
  if (rc) return rc;
  if (!p || nbytes < CV_POOL_MIN_BYTES) return cv_tensor_new(out, dt, ndim, shape, 0, false, err);
  size_t cap = (nbytes + CV_POOL_GRAIN - 1) / CV_POOL_GRAIN * CV_POOL_GRAIN;
  void *mem = take(p, cap);
  if (!mem) {
    if (posix_memalign(&mem, CV_POOL_ALIGN, cap))
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "cannot allocate %zu bytes", nbytes);
    madvise(mem, cap, MADV_HUGEPAGE);
  }
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  rc = cv_tensor_wrap(out, dt, ndim, shape, mem, release_pooled, p, cap, err);
  if (rc) {
    give(p, mem, cap);
    cv_pool_unref(p);
  }
  return rc;
}

/* ---- shared buffers for a batch's small outputs ---- */

#define CV_SHARED_POPULATE_MIN ((size_t)64 << 10)   /* below this, faulting page by page is as cheap */

typedef struct {
  atomic_int refs;   /* tensors still using the buffer */
} shared_t;

#define CV_SHARED_HEAD ((sizeof(shared_t) + CV_TENSOR_ALIGN - 1) / CV_TENSOR_ALIGN * CV_TENSOR_ALIGN)

static void shared_drop(shared_t *sh, int n) {
  if (atomic_fetch_sub_explicit(&sh->refs, n, memory_order_acq_rel) == n) free(sh);
}

static void release_shared(cv_tensor_t *t) { shared_drop(t->owner, 1); }

int cv_tensors_new_shared(cv_tensor_t **out, int n, const cv_array_t *const *like, cv_error_t *err) {
  if (n <= 0) return 0;
  size_t total = CV_SHARED_HEAD;
  for (int i = 0; i < n; i++) {
    size_t nbytes;
    int rc = cv_shape_check(like[i]->dtype, like[i]->ndim, like[i]->shape, 0, &nbytes, "shape", err);
    if (rc) return rc;
    size_t step = (nbytes + CV_TENSOR_ALIGN - 1) / CV_TENSOR_ALIGN * CV_TENSOR_ALIGN;
    if (step < nbytes || total + step < total)
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "outputs too large for one buffer");
    total += step;
  }
  void *mem = NULL;
  if (posix_memalign(&mem, CV_TENSOR_ALIGN, total))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "cannot allocate %zu bytes of outputs", total);
  shared_t *sh = mem;
  atomic_init(&sh->refs, n);
  if (total >= CV_SHARED_POPULATE_MIN) cv_prefault(mem, total);
  size_t off = CV_SHARED_HEAD;
  for (int i = 0; i < n; i++) {
    int rc = cv_tensor_wrap(&out[i], like[i]->dtype, like[i]->ndim, like[i]->shape, (char *)mem + off,
                            release_shared, sh, 0, err);
    if (rc) {
      for (int k = 0; k < i; k++) {
        cv_tensor_unref(out[k]);
        out[k] = NULL;
      }
      shared_drop(sh, n - i);   /* the references no tensor took */
      return rc;
    }
    off += (out[i]->nbytes + CV_TENSOR_ALIGN - 1) / CV_TENSOR_ALIGN * CV_TENSOR_ALIGN;
  }
  return 0;
}

/* tensor.c — allocation, wrapping and refcounting of host tensors.
 * Large buffers ask for transparent huge pages so first-touch of outputs is
 * cheap. Any thread. */
#include "tensor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CV_HUGEPAGE_MIN_BYTES (4u << 20)

int cv_shape_check(cv_dtype_t dt, int ndim, const int64_t *shape, size_t max_bytes,
                   size_t *nbytes, const char *field, cv_error_t *err) {
  if (ndim < 0 || ndim > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "rank %d is outside 0..%d", ndim,
                        CV_MAX_DIMS);
  size_t n = cv_dtype_size(dt);
  if (n == 0) return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, field, "unknown dtype");
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "shape[%d] is negative (%lld)", i,
                          (long long)shape[i]);
    if (shape[i] == 0) {
      empty = true;
      continue;
    }
    /* the other dims stay bounded even when one is 0: kernels index with them */
    if ((uint64_t)shape[i] > (SIZE_MAX / 16) / n)
      return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, field, "shape overflows the address space");
    n *= (size_t)shape[i];
  }
  if (empty) n = 0;
  if (max_bytes && n > max_bytes)
    return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, field,
                        "tensor of %zu bytes exceeds the limit of %zu bytes", n, max_bytes);
  *nbytes = n;
  return 0;
}

static void release_free(cv_tensor_t *t) { free(t->a.data); }

static int tensor_alloc(cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape,
                        size_t nbytes) {
  cv_tensor_t *t = calloc(1, sizeof *t);
  if (!t) return -CV_EOUT_OF_MEMORY;
  atomic_init(&t->refs, 1);
  t->a.dtype = dt;
  t->a.ndim = ndim;
  if (ndim) memcpy(t->a.shape, shape, (size_t)ndim * sizeof *shape);
  t->nbytes = nbytes;
  *out = t;
  return 0;
}

int cv_tensor_new(cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape,
                  size_t max_bytes, bool zero, cv_error_t *err) {
  size_t nbytes;
  int rc = cv_shape_check(dt, ndim, shape, max_bytes, &nbytes, "shape", err);
  if (rc) return rc;
  cv_tensor_t *t;
  if (tensor_alloc(&t, dt, ndim, shape, nbytes))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for a tensor header");
  size_t cap = (nbytes + CV_TENSOR_ALIGN - 1) / CV_TENSOR_ALIGN * CV_TENSOR_ALIGN;
  if (cap == 0) cap = CV_TENSOR_ALIGN;
  void *p = NULL;
  size_t align = cap >= CV_HUGEPAGE_MIN_BYTES ? (2u << 20) : CV_TENSOR_ALIGN;
  if (posix_memalign(&p, align, cap)) {
    free(t);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "cannot allocate %zu bytes", nbytes);
  }
  if (cap >= CV_HUGEPAGE_MIN_BYTES) madvise(p, cap, MADV_HUGEPAGE);
  if (zero) memset(p, 0, cap);
  t->a.data = p;
  t->release = release_free;
  *out = t;
  return 0;
}

int cv_tensor_wrap(cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape, void *data,
                   void (*release)(cv_tensor_t *), void *owner, size_t owner_len, cv_error_t *err) {
  size_t nbytes;
  int rc = cv_shape_check(dt, ndim, shape, 0, &nbytes, "shape", err);
  if (rc) return rc;
  cv_tensor_t *t;
  if (tensor_alloc(&t, dt, ndim, shape, nbytes))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for a tensor header");
  t->a.data = data;
  t->release = release;
  t->owner = owner;
  t->owner_len = owner_len;
  *out = t;
  return 0;
}

cv_tensor_t *cv_tensor_ref(cv_tensor_t *t) {
  if (t) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  return t;
}

void cv_tensor_unref(cv_tensor_t *t) {
  if (!t) return;
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) return;
  if (t->release) t->release(t);
  free(t);
}

/* tensor.h — refcounted host tensors: dense C-order arrays that outlive the
 * request that made them (uploads, inputs, outputs, kept results).
 * Refcounts are atomic: any thread may ref/unref. The last unref releases
 * the data (free, munmap, or a backend's free) and the struct. */
#ifndef CV_TENSOR_H
#define CV_TENSOR_H

#include <stdatomic.h>
#include <stddef.h>

#include "../kernels/types.h"
#include "../proto/errors.h"

typedef struct cv_tensor_s cv_tensor_t;

struct cv_tensor_s {
  atomic_int refs;
  cv_array_t a;                          /* dtype, ndim, shape, data */
  size_t nbytes;                         /* numel × dtype size */
  void (*release)(cv_tensor_t *t);       /* frees data; NULL = nothing to free */
  void *owner;                           /* release's context (mmap base, …) */
  size_t owner_len;
};

#define CV_TENSOR_ALIGN 64

/* Checks a shape (every dim >= 0, ndim 0..CV_MAX_DIMS, byte size without
 * overflow and <= max_bytes; 0 = no cap) and returns its byte size in *nbytes.
 * Errors: -CV_EINVALID_ARGUMENT (field), -CV_EPAYLOAD_TOO_LARGE. */
int cv_shape_check(cv_dtype_t dt, int ndim, const int64_t *shape, size_t max_bytes,
                   size_t *nbytes, const char *field, cv_error_t *err);

/* A new tensor with uninitialised, CV_TENSOR_ALIGN-aligned data (zeroed when
 * zero is true). refs = 1; the caller owns that reference. */
int cv_tensor_new(cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape,
                  size_t max_bytes, bool zero, cv_error_t *err);
/* Wraps memory the caller hands over; release(t) is called at the end. */
int cv_tensor_wrap(cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape, void *data,
                   void (*release)(cv_tensor_t *), void *owner, size_t owner_len, cv_error_t *err);

cv_tensor_t *cv_tensor_ref(cv_tensor_t *t);   /* returns t; NULL-safe */
void cv_tensor_unref(cv_tensor_t *t);         /* NULL-safe */

#endif

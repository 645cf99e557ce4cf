/* pool.h — a cache of large host buffers for job outputs, so steady-state
 * jobs reuse mapped pages instead of faulting in (and zeroing) fresh ones.
 * Buffers >= CV_POOL_MIN_BYTES are 2 MiB aligned (huge pages), rounded up to
 * whole pages, and kept on release
 * up to max_cached_bytes; smaller ones use plain aligned malloc. Refcounted:
 * the engine holds one reference and every pooled tensor another, so the pool
 * outlives the engine while results are still held. Any thread. */
#ifndef CV_POOL_H
#define CV_POOL_H

#include "tensor.h"

#define CV_POOL_MIN_BYTES (1u << 20)

typedef struct cv_pool_s cv_pool_t;

int cv_pool_new(cv_pool_t **out, size_t max_cached_bytes);
void cv_pool_unref(cv_pool_t *p);   /* NULL-safe; frees cached buffers when the last reference goes */

/* Like cv_tensor_new (uninitialised data), drawing large buffers from p. */
int cv_tensor_new_pooled(cv_pool_t *p, cv_tensor_t **out, cv_dtype_t dt, int ndim, const int64_t *shape,
                         cv_error_t *err);

/* n small tensors (dtype and shape of like[i], uninitialised data) in one
 * shared buffer: a batch's outputs take one allocation, their pages faulted
 * in by one madvise, instead of a malloc and a few page faults each. Each
 * tensor holds a reference to the buffer; the last unref frees it. Any of
 * them may outlive the others. On error nothing is left allocated. */
int cv_tensors_new_shared(cv_tensor_t **out, int n, const cv_array_t *const *like, cv_error_t *err);

/* Bytes cached (free, ready for reuse), for tests and metrics. */
size_t cv_pool_cached_bytes(cv_pool_t *p);

#endif

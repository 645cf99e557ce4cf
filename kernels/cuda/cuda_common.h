/* cuda_common.h — shared by every file of kernels/cuda/ (C and CUDA C):
 * CV_CUDA_TRY, the per-call device workspace (stream-ordered allocations
 * from the device's memory pool, freed together at the end of a call), the
 * real-view dtype stamp list and the largest rank the kernels index.
 * Plain C with extern "C"; the device worker thread calls everything here. */
#ifndef CV_CUDA_COMMON_H
#define CV_CUDA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../../proto/errors.h"
#include "../dwt_math.h"
#include "../ops.h"

/* Logs "convoy cuda: file:line: expr: <CUDA string>", clears a non-sticky
 * error, and maps cudaErrorMemoryAllocation → -CV_EOUT_OF_MEMORY, anything
 * else → -CV_EINTERNAL. Never aborts. */
int cv__cuda_err(cudaError_t e, const char *expr, const char *file, int line);

/* Needs `int rc` and a `fail:` label in the caller. */
#define CV_CUDA_TRY(expr)                                          \
  do {                                                             \
    cudaError_t e_ = (expr);                                       \
    if (e_ != cudaSuccess) {                                       \
      rc = cv__cuda_err(e_, #expr, __FILE__, __LINE__);            \
      goto fail;                                                   \
    }                                                              \
  } while (0)

/* Same for a function that already returns 0 or -CV_E…. */
#define CV_TRY(expr)          \
  do {                        \
    rc = (expr);              \
    if (rc) goto fail;        \
  } while (0)

/* Rank of a kernel's view: the op's rank + the batch-of-jobs axis + the
 * (re, im) axis of complex data. */
#define CV_CUDA_MAX_RANK (CV_MAX_DIMS + 2)

/* Blocks per launch at most; every kernel loops grid-stride over its work. */
#define CV_CUDA_MAX_GRID 65536

/* Workspace allocations of one backend call: cudaMallocAsync on `stream`
 * from the device's pool, all released by cv__cuda_ws_release (stream-
 * ordered, so they are reused by the next call without a sync). */
#define CV_CUDA_WS_MAX 256
typedef struct cv_cuda_ws_s {
  cudaStream_t stream;
  int n;
  void *ptr[CV_CUDA_WS_MAX];
} cv_cuda_ws_t;

/* 0, -CV_EOUT_OF_MEMORY or -CV_EINTERNAL. bytes 0 gives a valid pointer. */
int cv__cuda_ws_alloc(cv_cuda_ws_t *ws, size_t bytes, void **out);
void cv__cuda_ws_release(cv_cuda_ws_t *ws);

/* Elements of a dense shape (1 for rank 0). */
static inline int64_t cv__cuda_numel(const int64_t *shape, int rank) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= shape[d];
  return n;
}

#ifdef __cplusplus
}
#endif

#endif

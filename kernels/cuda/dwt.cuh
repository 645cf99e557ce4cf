/* dwt.cuh — pywt.wavedecn on the GPU: all levels of one batch of same-shape
 * jobs, intermediates on the device. Plain C launcher; the backend
 * (run_cuda.c) uploads x, allocates the level stacks and downloads them.
 * Called on the device worker thread. */
#ifndef CV_CUDA_DWT_CUH
#define CV_CUDA_DWT_CUH

#include "cuda_common.h"   /* also dwt_math.h, with C linkage */

#ifdef __cplusplus
extern "C" {
#endif

#define CV_CUDA_HAAR_BLOCK 256     /* threads per block of the fused Haar kernel */
#define CV_CUDA_HAAR_MAX_AXES 3    /* fused Haar levels: 2×2×2 blocks at most */

/* One batch of dwt jobs as the kernels see it (real view: the batch-of-jobs
 * axis first, complex as a trailing axis of 2). Level lev writes stack[lev]:
 * 2^n_axes bands of the level's shape, band b in pywt's key order (bit
 * n_axes−1−i set = 'd' on axes[i]); band 0 is the approximation, which the
 * next level reads. */
typedef struct cv_cuda_dwt_job_s {
  cv_dtype_t dt;                          /* CV_DTYPE_F32 or CV_DTYPE_F64 */
  int rank;
  int64_t shape[CV_CUDA_MAX_RANK];
  int n_axes;
  int axes[CV_MAX_DIMS];                  /* into the real view, in params order */
  const cv_wavelet_t *wavelets[CV_MAX_DIMS];
  cv_mode_t modes[CV_MAX_DIMS];
  int level;                              /* >= 1 */
  const void *x;
  void *stack[CV_DWT_MAX_LEVEL + 1];      /* [1..level] */
} cv_cuda_dwt_job_t;

/* The shape of every band of level lev (lev 0: x's). */
void cv_cuda_dwt_level_shape(const cv_cuda_dwt_job_t *job, int lev, int64_t *shape);

/* Runs every level on stream ws->stream; temporaries come from ws. 0 or -CV_E…. */
int cv_cuda_dwt_launch(const cv_cuda_dwt_job_t *job, cv_cuda_ws_t *ws);

#ifdef __cplusplus
}
#endif

#endif

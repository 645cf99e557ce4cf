/* idwt.cuh — pywt.waverecn on the GPU: every level of one batch of
 * same-shape jobs, intermediates on the device; plus the n-d crop kernel it
 * (and idwt level 0) uses. Plain C launchers; the backend (run_cuda.c)
 * uploads the coefficients into the level stacks and downloads x. Called on
 * the device worker thread. */
#ifndef CV_CUDA_IDWT_CUH
#define CV_CUDA_IDWT_CUH

#include "cuda_common.h"   /* also dwt_math.h, with C linkage */

#ifdef __cplusplus
extern "C" {
#endif

#define CV_CUDA_IDWT_BLOCK 256
#define CV_CUDA_CROP_BLOCK 256
#define CV_CUDA_IDWT_MASK_WORDS ((1 << CV_MAX_DIMS) / 32)   /* one bit per band of a level */

/* One batch of idwt jobs (real view: the batch-of-jobs axis first, complex
 * as a trailing axis of 2). stack[j] holds the 2^n_axes bands of level j,
 * each of shape band[j], in pywt's key order (bit n_axes−1−i = 'd' on
 * axes[i]); slot 0 is the approximation: the `a` input at the first level,
 * written by level j+1 below it. Bands whose bit in present[j] is clear are
 * zeros and are never read. Level j's result, trimmed/cropped to res[j], goes
 * into slot 0 of stack[j−1], level 1's into x. */
typedef struct cv_cuda_idwt_job_s {
  cv_dtype_t dt;                                  /* CV_DTYPE_F32 or CV_DTYPE_F64 */
  int rank;
  int n_axes;
  int axes[CV_MAX_DIMS];                          /* into the real view, in params order */
  const cv_wavelet_t *wavelets[CV_MAX_DIMS];
  cv_mode_t modes[CV_MAX_DIMS];
  int start;                                      /* first (coarsest) level that runs, >= 1 */
  int64_t band[CV_DWT_MAX_LEVEL + 1][CV_CUDA_MAX_RANK];
  int64_t res[CV_DWT_MAX_LEVEL + 1][CV_CUDA_MAX_RANK];
  void *stack[CV_DWT_MAX_LEVEL + 1];
  uint32_t present[CV_DWT_MAX_LEVEL + 1][CV_CUDA_IDWT_MASK_WORDS];
  void *x;
} cv_cuda_idwt_job_t;

/* Runs levels start..1 on ws->stream; temporaries from ws. 0 or -CV_E…. */
int cv_cuda_idwt_launch(const cv_cuda_idwt_job_t *job, cv_cuda_ws_t *ws);

/* dst (shape dshape) = the leading corner of src (shape sshape, each axis
 * >= dshape's); elements of es bytes (4, 8 or 16). 0 or -CV_E…. */
int cv_cuda_crop_launch(size_t es, int rank, const int64_t *sshape, const int64_t *dshape, const void *src,
                        void *dst, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif

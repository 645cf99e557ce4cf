/* device_util.cuh — device helpers shared by the .cu files of kernels/cuda/
 * (CUDA C only, never included from C): 64-bit index division with a 32-bit
 * fast path, grid sizing, and the real-view dtype stamp list. */
#ifndef CV_CUDA_DEVICE_UTIL_CUH
#define CV_CUDA_DEVICE_UTIL_CUH

#include <stdint.h>

#include "cuda_common.h"

/* Real element types of the wavelet/sepconv kernels (complex = pairs). */
#define CV_CUDA_DTYPES(XX) XX(f32, float) XX(f64, double)

/* q = a / b, *r = a % b. 64-bit division is a long software sequence on the
 * GPU; index math mostly fits 32 bits, so take the hardware path then. */
static __device__ __forceinline__ uint64_t cv_divmod(uint64_t a, uint64_t b, uint64_t *r) {
  if (((a | b) >> 32) == 0) {
    uint32_t q = (uint32_t)a / (uint32_t)b;
    *r = (uint32_t)a - q * (uint32_t)b;
    return q;
  }
  uint64_t q = a / b;
  *r = a - q * b;
  return q;
}

/* Blocks for `work` items of `per_block` each, capped (kernels loop grid-stride). */
static inline unsigned cv_cuda_grid(uint64_t work, uint64_t per_block, uint64_t cap) {
  uint64_t g = (work + per_block - 1) / per_block;
  if (g < 1) g = 1;
  return (unsigned)(g < cap ? g : cap);
}

#endif

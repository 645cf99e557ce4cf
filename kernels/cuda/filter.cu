/* filter.cu — the shared 1-D filter pass (filter.cuh) on the GPU.
 *
 * Two kernels, picked by the axis' memory stride (not measured yet; the
 * design follows the access pattern):
 * - cols: the filtered axis is strided (inner > 1). Threads map to the
 *   contiguous inner axis, so each tap is one coalesced warp-wide load, and
 *   every thread loops over the taps along the strided axis. Both tap sets
 *   (dwt lo/hi) are accumulated from the same loads.
 * - rows: the filtered axis is the contiguous one (inner == 1). A block takes
 *   a tile of CV_CUDA_FILT_TILE outputs of one row, loads the input span the
 *   tile needs (halo included) into shared memory with coalesced loads,
 *   resolving boundary extension at load time, then every thread reads its
 *   taps from shared memory. Spans too large for shared memory (huge
 *   dilations) fall back to the cols kernel, which is correct for inner == 1.
 * Taps are rounded to the element type (pywt rounds float32 filters too) and
 * accumulated in it; extended samples are summed in double, as on the CPU. */
#include "../dwt_index.h"
#include "device_util.cuh"
#include "filter.cuh"

#define CV_FILT_KERNELS(sfx, T)                                                                      \
  __global__ void __launch_bounds__(CV_CUDA_FILT_BLOCK)                                              \
      cv_filt_cols_##sfx(const cv_cuda_filt_t f, const T *__restrict__ x, T *__restrict__ y) {       \
    __shared__ T w[CV_CUDA_FILT_MAX_TAPS];                                                           \
    for (int k = threadIdx.x; k < f.nout * f.ntaps; k += blockDim.x) w[k] = (T)f.taps[k];            \
    __syncthreads();                                                                                 \
    const uint64_t inner = (uint64_t)f.inner, m = (uint64_t)f.m;                                     \
    const uint64_t total = (uint64_t)f.nsub * (uint64_t)f.outer * m * inner;                         \
    const int64_t span = (int64_t)(f.ntaps - 1) * f.dilation;                                        \
    const uint64_t band = (uint64_t)f.outer * m * inner;                                             \
    for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;                \
         idx += (uint64_t)gridDim.x * blockDim.x) {                                                  \
      uint64_t i, j, o;                                                                              \
      const uint64_t r = cv_divmod(idx, inner, &i);                                                  \
      const uint64_t row = cv_divmod(r, m, &j);                                                      \
      const uint64_t sub = cv_divmod(row, (uint64_t)f.outer, &o);                                    \
      const T *xr = x + row * (uint64_t)f.n * inner + i;                                             \
      const int64_t p0 = (int64_t)j * f.stride + f.offset;                                           \
      T a0 = 0, a1 = 0;                                                                              \
      if (p0 >= 0 && p0 + span < f.n) {                                                              \
        const T *xp = xr + p0 * (int64_t)inner;                                                      \
        const int64_t st = (int64_t)f.dilation * (int64_t)inner;                                     \
        for (int t = 0; t < f.ntaps; t++) {                                                          \
          const T v = xp[t * st];                                                                    \
          a0 += w[t] * v;                                                                            \
          if (f.nout == 2) a1 += w[f.ntaps + t] * v;                                                 \
        }                                                                                            \
      } else {                                                                                       \
        for (int t = 0; t < f.ntaps; t++) {                                                          \
          const T v = (T)cv_ix_ext_##sfx(xr, f.n, (int64_t)inner, p0 + (int64_t)t * f.dilation, f.mode); \
          a0 += w[t] * v;                                                                            \
          if (f.nout == 2) a1 += w[f.ntaps + t] * v;                                                 \
        }                                                                                            \
      }                                                                                              \
      T *yo = y + (sub * f.nout * (uint64_t)f.outer + o) * m * inner + j * inner + i;                \
      yo[0] = a0;                                                                                    \
      if (f.nout == 2) yo[band] = a1;                                                                \
    }                                                                                                \
  }                                                                                                  \
                                                                                                     \
  __global__ void __launch_bounds__(CV_CUDA_FILT_BLOCK)                                              \
      cv_filt_rows_##sfx(const cv_cuda_filt_t f, const T *__restrict__ x, T *__restrict__ y,         \
                         uint64_t tiles) {                                                           \
    extern __shared__ double cv_filt_smem[];                                                         \
    T *w = (T *)cv_filt_smem;                                                                        \
    T *xs = w + f.nout * f.ntaps;                                                                    \
    for (int k = threadIdx.x; k < f.nout * f.ntaps; k += blockDim.x) w[k] = (T)f.taps[k];            \
    const uint64_t m = (uint64_t)f.m, rows = (uint64_t)f.nsub * (uint64_t)f.outer;                   \
    const uint64_t band = (uint64_t)f.outer * m;                                                     \
    for (uint64_t blk = blockIdx.x; blk < rows * tiles; blk += gridDim.x) {                          \
      uint64_t tile, o;                                                                              \
      const uint64_t row = cv_divmod(blk, tiles, &tile);                                             \
      const uint64_t sub = cv_divmod(row, (uint64_t)f.outer, &o);                                    \
      const int64_t j0 = (int64_t)tile * CV_CUDA_FILT_TILE;                                          \
      const int64_t jn = f.m - j0 < CV_CUDA_FILT_TILE ? f.m - j0 : CV_CUDA_FILT_TILE;                \
      const int64_t p0 = j0 * f.stride + f.offset;                                                   \
      const int64_t span = (jn - 1) * f.stride + (int64_t)(f.ntaps - 1) * f.dilation + 1;            \
      const T *xr = x + row * (uint64_t)f.n;                                                         \
      __syncthreads(); /* taps loaded; the previous tile's reads are done */                         \
      for (int64_t k = threadIdx.x; k < span; k += blockDim.x) {                                     \
        const int64_t p = p0 + k;                                                                    \
        xs[k] = p >= 0 && p < f.n ? xr[p] : (T)cv_ix_ext_##sfx(xr, f.n, 1, p, f.mode);               \
      }                                                                                              \
      __syncthreads();                                                                               \
      for (int64_t jt = threadIdx.x; jt < jn; jt += blockDim.x) {                                    \
        const T *xp = xs + jt * f.stride;                                                            \
        T a0 = 0, a1 = 0;                                                                            \
        for (int t = 0; t < f.ntaps; t++) {                                                          \
          const T v = xp[t * f.dilation];                                                            \
          a0 += w[t] * v;                                                                            \
          if (f.nout == 2) a1 += w[f.ntaps + t] * v;                                                 \
        }                                                                                            \
        T *yo = y + (sub * f.nout * (uint64_t)f.outer + o) * m + (uint64_t)(j0 + jt);                \
        yo[0] = a0;                                                                                  \
        if (f.nout == 2) yo[band] = a1;                                                              \
      }                                                                                              \
    }                                                                                                \
  }

CV_CUDA_DTYPES(CV_FILT_KERNELS)

extern "C" int cv_cuda_filt_launch(const cv_cuda_filt_t *f, cv_dtype_t dt, const void *x, void *y,
                                   cudaStream_t s) {
  int rc = 0;
  if ((dt != CV_DTYPE_F32 && dt != CV_DTYPE_F64) || f->nout < 1 || f->nout > 2 || f->ntaps < 1 ||
      f->ntaps * f->nout > CV_CUDA_FILT_MAX_TAPS || f->stride < 1 || f->dilation < 1 || f->n < 1 ||
      f->nsub < 1 || f->outer < 0 || f->inner < 0 || f->m < 0)
    return -CV_EINTERNAL;
  const uint64_t total = (uint64_t)f->nsub * (uint64_t)f->outer * (uint64_t)f->m * (uint64_t)f->inner;
  if (total == 0) return 0;
  const size_t es = dt == CV_DTYPE_F32 ? sizeof(float) : sizeof(double);
  const int64_t span_max = (int64_t)(CV_CUDA_FILT_TILE - 1) * f->stride + (int64_t)(f->ntaps - 1) * f->dilation + 1;
  const size_t smem = ((size_t)f->nout * (size_t)f->ntaps + (size_t)span_max) * es;
  if (f->inner == 1 && smem <= CV_CUDA_FILT_SMEM_MAX) {
    const uint64_t tiles = ((uint64_t)f->m + CV_CUDA_FILT_TILE - 1) / CV_CUDA_FILT_TILE;
    const unsigned grid = cv_cuda_grid((uint64_t)f->nsub * (uint64_t)f->outer * tiles, 1, CV_CUDA_MAX_GRID);
    if (dt == CV_DTYPE_F32)
      cv_filt_rows_f32<<<grid, CV_CUDA_FILT_BLOCK, smem, s>>>(*f, (const float *)x, (float *)y, tiles);
    else
      cv_filt_rows_f64<<<grid, CV_CUDA_FILT_BLOCK, smem, s>>>(*f, (const double *)x, (double *)y, tiles);
  } else {
    const unsigned grid = cv_cuda_grid(total, CV_CUDA_FILT_BLOCK, CV_CUDA_MAX_GRID);
    if (dt == CV_DTYPE_F32)
      cv_filt_cols_f32<<<grid, CV_CUDA_FILT_BLOCK, 0, s>>>(*f, (const float *)x, (float *)y);
    else
      cv_filt_cols_f64<<<grid, CV_CUDA_FILT_BLOCK, 0, s>>>(*f, (const double *)x, (double *)y);
  }
  CV_CUDA_TRY(cudaGetLastError());
fail:
  return rc;
}

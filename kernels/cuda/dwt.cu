/* dwt.cu — the multilevel n-D dwt on the GPU (dwt.cuh): pywt.wavedecn's
 * levels, each either one fused pass or one filter pass per axis.
 *
 * - Fused Haar: when every transformed axis has a 2-tap filter and an even
 *   length at this level (no boundary samples are read), one kernel reads
 *   each 2×…×2 block (up to 2×2×2) once and writes all 2^n bands: one read
 *   of the level and one write of its bands, the minimum traffic.
 * - Otherwise one pass per transformed axis (filter.cu), in params order:
 *   pass i reads 2^i stacked sub-arrays and writes 2^(i+1) (lo and hi from
 *   the same loads), so after the last pass the stack is in pywt's band
 *   order and lands directly in the level's stack. Intermediates ping-pong
 *   between two device buffers; levels chain on the device.
 * The batch of jobs is one more leading axis, so one launch serves it all. */
#include <stdlib.h>
#include <string.h>

#include "../dwt_index.h"
#include "device_util.cuh"
#include "dwt.cuh"
#include "filter.cuh"

typedef struct cv_haar_s {
  int rank, k;
  unsigned tmask;                        /* bit d: axis d is transformed */
  int64_t oshape[CV_CUDA_MAX_RANK];      /* band shape */
  int64_t istride[CV_CUDA_MAX_RANK];     /* input strides, elements */
  int64_t coff[1 << CV_CUDA_HAAR_MAX_AXES];   /* input offset of each block corner */
  double lo[CV_CUDA_HAAR_MAX_AXES][2], hi[CV_CUDA_HAAR_MAX_AXES][2];
  uint64_t onumel;
} cv_haar_t;

/* Corner c has bit (k−1−i) set when it sits at 2o+1 along axes[i]; after the
 * butterflies corner c holds band c (set bit = 'd'). dwt output o of a 2-tap
 * filter f is f[0]·x[2o+1] + f[1]·x[2o]. */
#define CV_HAAR_KERNEL(sfx, T)                                                                       \
  __global__ void __launch_bounds__(CV_CUDA_HAAR_BLOCK)                                              \
      cv_haar_##sfx(const cv_haar_t h, const T *__restrict__ x, T *__restrict__ y) {                 \
    const int nc = 1 << h.k;                                                                         \
    for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < h.onumel;             \
         idx += (uint64_t)gridDim.x * blockDim.x) {                                                  \
      uint64_t rem = idx;                                                                            \
      int64_t off = 0;                                                                               \
      for (int d = h.rank - 1; d >= 0; d--) {                                                        \
        uint64_t c;                                                                                  \
        rem = cv_divmod(rem, (uint64_t)h.oshape[d], &c);                                             \
        off += (int64_t)c * ((h.tmask >> d) & 1u ? 2 : 1) * h.istride[d];                            \
      }                                                                                              \
      T v[1 << CV_CUDA_HAAR_MAX_AXES];                                                               \
      _Pragma("unroll") for (int c = 0; c < (1 << CV_CUDA_HAAR_MAX_AXES); c++) if (c < nc) v[c] =    \
          x[off + h.coff[c]];                                                                        \
      _Pragma("unroll") for (int i = 0; i < CV_CUDA_HAAR_MAX_AXES; i++) {                            \
        if (i >= h.k) break;                                                                         \
        const int bit = 1 << (h.k - 1 - i);                                                          \
        const T l0 = (T)h.lo[i][0], l1 = (T)h.lo[i][1], g0 = (T)h.hi[i][0], g1 = (T)h.hi[i][1];      \
        _Pragma("unroll") for (int c = 0; c < (1 << CV_CUDA_HAAR_MAX_AXES); c++) {                   \
          if (c >= nc || (c & bit)) continue;                                                        \
          const T a = v[c], b = v[c | bit];                                                          \
          v[c] = l0 * b + l1 * a;                                                                    \
          v[c | bit] = g0 * b + g1 * a;                                                              \
        }                                                                                            \
      }                                                                                              \
      _Pragma("unroll") for (int c = 0; c < (1 << CV_CUDA_HAAR_MAX_AXES); c++) if (c < nc)           \
          y[(uint64_t)c * h.onumel + idx] = v[c];                                                    \
    }                                                                                                \
  }

CV_CUDA_DTYPES(CV_HAAR_KERNEL)

/* ---- host side ---- */

extern "C" void cv_cuda_dwt_level_shape(const cv_cuda_dwt_job_t *job, int lev, int64_t *shape) {
  for (int d = 0; d < job->rank; d++) shape[d] = job->shape[d];
  for (int l = 0; l < lev; l++)
    for (int i = 0; i < job->n_axes; i++) {
      int ax = job->axes[i];
      shape[ax] = cv_dwt_coeff_len(shape[ax], job->wavelets[i]->len, job->modes[i]);
    }
}

static bool haar_fits(const cv_cuda_dwt_job_t *job, const int64_t *shape) {
  if (job->n_axes > CV_CUDA_HAAR_MAX_AXES) return false;
  for (int i = 0; i < job->n_axes; i++)
    if (job->wavelets[i]->len != 2 || shape[job->axes[i]] % 2 != 0) return false;
  return true;
}

static int haar_level(const cv_cuda_dwt_job_t *job, const int64_t *shape, const void *in, void *out,
                      cudaStream_t s) {
  int rc = 0;
  cv_haar_t h;
  memset(&h, 0, sizeof h);
  h.rank = job->rank;
  h.k = job->n_axes;
  int64_t st = 1;
  for (int d = job->rank - 1; d >= 0; d--) {
    h.istride[d] = st;
    st *= shape[d];
    h.oshape[d] = shape[d];
  }
  for (int i = 0; i < h.k; i++) {
    int ax = job->axes[i];
    h.tmask |= 1u << ax;
    h.oshape[ax] = shape[ax] / 2;
    for (int t = 0; t < 2; t++) {
      h.lo[i][t] = job->wavelets[i]->dec_lo[t];
      h.hi[i][t] = job->wavelets[i]->dec_hi[t];
    }
  }
  for (int c = 0; c < (1 << h.k); c++)
    for (int i = 0; i < h.k; i++)
      if (c & (1 << (h.k - 1 - i))) h.coff[c] += h.istride[job->axes[i]];
  h.onumel = (uint64_t)cv__cuda_numel(h.oshape, h.rank);
  if (h.onumel == 0) return 0;
  const unsigned grid = cv_cuda_grid(h.onumel, CV_CUDA_HAAR_BLOCK, CV_CUDA_MAX_GRID);
  if (job->dt == CV_DTYPE_F32)
    cv_haar_f32<<<grid, CV_CUDA_HAAR_BLOCK, 0, s>>>(h, (const float *)in, (float *)out);
  else
    cv_haar_f64<<<grid, CV_CUDA_HAAR_BLOCK, 0, s>>>(h, (const double *)in, (double *)out);
  CV_CUDA_TRY(cudaGetLastError());
fail:
  return rc;
}

/* One axis pass: nsub sub-arrays of `shape` → 2·nsub of shape with axis ax shortened. */
static int axis_pass(const cv_cuda_dwt_job_t *job, int i, int nsub, int64_t *shape, const void *in, void *out,
                     cudaStream_t s) {
  const cv_wavelet_t *w = job->wavelets[i];
  int ax = job->axes[i], F = w->len;
  cv_cuda_filt_t *f = (cv_cuda_filt_t *)calloc(1, sizeof *f);
  if (!f) return -CV_EOUT_OF_MEMORY;
  f->outer = cv__cuda_numel(shape, ax);
  f->n = shape[ax];
  f->inner = cv__cuda_numel(shape + ax + 1, job->rank - ax - 1);
  f->m = cv_dwt_coeff_len(f->n, F, job->modes[i]);
  f->nsub = nsub;
  f->nout = 2;
  f->ntaps = F;
  f->stride = 2;
  f->dilation = 1;
  /* pywt: output o = Σ_j h[j]·x[2o + base − j], base 1 (periodization F/2);
   * with t = F−1−j that is taps h[F−1−t] at 2o + (base − F + 1) + t */
  int base = job->modes[i] == CV_MODE_PERIODIZATION ? F / 2 : 1;
  f->offset = base - (F - 1);
  f->mode = job->modes[i];
  for (int t = 0; t < F; t++) {
    f->taps[t] = w->dec_lo[F - 1 - t];
    f->taps[F + t] = w->dec_hi[F - 1 - t];
  }
  int rc = cv_cuda_filt_launch(f, job->dt, in, out, s);
  shape[ax] = f->m;
  free(f);
  return rc;
}

extern "C" int cv_cuda_dwt_launch(const cv_cuda_dwt_job_t *job, cv_cuda_ws_t *ws) {
  int rc = 0, n = job->n_axes;
  if (job->level < 1 || job->level > CV_DWT_MAX_LEVEL || n < 1 || n > CV_MAX_DIMS || job->rank > CV_CUDA_MAX_RANK)
    return -CV_EINTERNAL;
  for (int i = 0; i < n; i++)
    if (job->axes[i] < 0 || job->axes[i] >= job->rank || job->wavelets[i]->len < 1 ||
        2 * job->wavelets[i]->len > CV_CUDA_FILT_MAX_TAPS)
      return -CV_EINTERNAL;
  const size_t es = job->dt == CV_DTYPE_F32 ? sizeof(float) : sizeof(double);

  /* the largest intermediate stack (passes 0..n−2 of any level) */
  size_t inter = 0;
  for (int lev = 1; lev <= job->level; lev++) {
    int64_t shape[CV_CUDA_MAX_RANK];
    cv_cuda_dwt_level_shape(job, lev - 1, shape);
    for (int i = 0; i + 1 < n; i++) {
      int ax = job->axes[i];
      shape[ax] = cv_dwt_coeff_len(shape[ax], job->wavelets[i]->len, job->modes[i]);
      size_t sz = ((size_t)2 << i) * (size_t)cv__cuda_numel(shape, job->rank);
      if (sz > inter) inter = sz;
    }
  }
  void *ping[2] = {NULL, NULL};
  if (n >= 2) CV_TRY(cv__cuda_ws_alloc(ws, inter * es, &ping[0]));
  if (n >= 3) CV_TRY(cv__cuda_ws_alloc(ws, inter * es, &ping[1]));

  for (int lev = 1; lev <= job->level; lev++) {
    int64_t shape[CV_CUDA_MAX_RANK];
    cv_cuda_dwt_level_shape(job, lev - 1, shape);
    const void *in = lev == 1 ? job->x : job->stack[lev - 1];
    if (cv__cuda_numel(shape, job->rank) == 0) continue;
    if (haar_fits(job, shape)) {
      CV_TRY(haar_level(job, shape, in, job->stack[lev], ws->stream));
      continue;
    }
    for (int i = 0; i < n; i++) {
      void *out = i == n - 1 ? job->stack[lev] : ping[i & 1];
      CV_TRY(axis_pass(job, i, 1 << i, shape, in, out, ws->stream));
      in = out;
    }
  }
fail:
  return rc;
}

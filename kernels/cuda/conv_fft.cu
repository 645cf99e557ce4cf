/* conv_fft.cu — FFT convolution with cuFFT (conv_fft.cuh).
 *
 * Per spatial axis the padded length L = in + lo + hi is rounded up to a
 * cuFFT-friendly P >= L (cv_conv_fft_len). Circular cross-correlation of
 * length P, c[t] = Σ_j w[j]·xp[(t + j) mod P], equals the linear one for
 * t <= L − span because t + j <= L − 1 < P: no wrap-around reaches the
 * outputs we keep (t = o·stride). Dilation places tap j at j·dil in the
 * zero-filled kernel grid, flip reverses the taps before. One real buffer
 * (largest of x, w, y) and three spectra; cuFFT plans are made per call
 * and destroyed after a stream sync (their work areas are cuFFT's own). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifdef CONVOY_HAVE_CUFFT
#include <cufft.h>
#endif

#include "conv_fft.cuh"
#include "device_util.cuh"

#ifdef CONVOY_HAVE_CUFFT

/* Yf[n, co, f] = Σ_ci Xf[n, ci, f] · conj(Wf[co, ci, f]) */
template <typename C, typename R>
__global__ void __launch_bounds__(CV_CUDA_CONV_BLOCK)
    cv_conv_fft_mul_k(const C *__restrict__ xf, const C *__restrict__ wf, C *__restrict__ yf, int64_t c,
                      int64_t cout, int64_t F, uint64_t total) {
  for (uint64_t idx = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (uint64_t)gridDim.x * blockDim.x) {
    uint64_t f, co, n = cv_divmod(cv_divmod(idx, (uint64_t)F, &f), (uint64_t)cout, &co);
    R re = 0, im = 0;
    const C *xp = xf + (int64_t)n * c * F + (int64_t)f, *wp = wf + (int64_t)co * c * F + (int64_t)f;
    for (int64_t ci = 0; ci < c; ci++) {
      C a = xp[ci * F], b = wp[ci * F];
      re += a.x * b.x + a.y * b.y;   /* a · conj(b) */
      im += a.y * b.x - a.x * b.y;
    }
    yf[idx].x = re;
    yf[idx].y = im;
  }
}

static int cufft_rc(cufftResult r, const char *what) {
  if (r == CUFFT_SUCCESS) return 0;
  fprintf(stderr, "convoy cuda: %s: cuFFT error %d\n", what, (int)r);
  return r == CUFFT_ALLOC_FAILED ? -CV_EOUT_OF_MEMORY : -CV_EINTERNAL;
}

extern "C" int cv_cuda_conv_fft(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  const cv_conv_geom_t *g = &job->g;
  cudaStream_t s = ws->stream;
  int rc = 0, rank = g->nsp, dims[3];
  cufftHandle plan[3] = {0, 0, 0};
  bool made[3] = {false, false, false};
  if (g->groups != 1) return -CV_EUNSUPPORTED_OP;
  const bool f64 = g->dt == CV_DTYPE_F64;
  const cv_dtype_t rt = f64 ? CV_DTYPE_F64 : CV_DTYPE_F32;
  const size_t res = f64 ? 8 : 4;
  int64_t P[3], L[3], Ptot = 1, F = 1;
  for (int a = 0; a < 3; a++) {
    L[a] = g->in[a] + g->lo[a] + g->hi[a];
    P[a] = a < 3 - rank ? 1 : cv_conv_fft_len(L[a]);
    if (P[a] < 1 || P[a] > INT_MAX) return -CV_EUNSUPPORTED_OP;
    Ptot *= P[a];
    F *= a == 2 ? P[a] / 2 + 1 : P[a];
    if (a >= 3 - rank) dims[a - (3 - rank)] = (int)P[a];
  }
  const int64_t nx = g->n * g->c, nw = g->cout * g->c, ny = g->n * g->cout;
  int64_t rows = nx > nw ? nx : nw;
  if (ny > rows) rows = ny;
  void *real = NULL, *xf = NULL, *wf = NULL, *yf = NULL;
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)rows * (size_t)Ptot * res, &real));
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)nx * (size_t)F * 2 * res, &xf));
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)nw * (size_t)F * 2 * res, &wf));
  CV_TRY(cv__cuda_ws_alloc(ws, (size_t)ny * (size_t)F * 2 * res, &yf));
  {
    const cufftType r2c = f64 ? CUFFT_D2Z : CUFFT_R2C, c2r = f64 ? CUFFT_Z2D : CUFFT_C2R;
    const int64_t batch[3] = {nx, nw, ny};
    for (int i = 0; i < 3; i++) {
      CV_TRY(cufft_rc(cufftPlanMany(&plan[i], rank, dims, NULL, 1, i == 2 ? (int)F : (int)Ptot, NULL, 1,
                                    i == 2 ? (int)Ptot : (int)F, i == 2 ? c2r : r2c, (int)batch[i]),
                      "cufftPlanMany"));
      made[i] = true;
      CV_TRY(cufft_rc(cufftSetStream(plan[i], s), "cufftSetStream"));
    }
  }
  {   /* x → padded real grid → spectrum */
    cv_cuda_pack_t pk;
    cv_cuda_pack_of(&pk, g, g->lo, L, P, 0);
    CV_TRY(cv_cuda_conv_pack_x(&pk, g->dt, job->x, rt, real, s));
    if (f64)
      CV_TRY(cufft_rc(cufftExecD2Z(plan[0], (cufftDoubleReal *)real, (cufftDoubleComplex *)xf), "cufftExecD2Z"));
    else
      CV_TRY(cufft_rc(cufftExecR2C(plan[0], (cufftReal *)real, (cufftComplex *)xf), "cufftExecR2C"));
  }
  /* w → zero grid with taps at t·dil (reversed when flip) → spectrum */
  CV_CUDA_TRY(cudaMemsetAsync(real, 0, (size_t)nw * (size_t)Ptot * res, s));
  CV_TRY(cv_cuda_conv_pack_w(g, CV_WPACK_FFT, P, job->w, rt, real, s));
  if (f64)
    CV_TRY(cufft_rc(cufftExecD2Z(plan[1], (cufftDoubleReal *)real, (cufftDoubleComplex *)wf), "cufftExecD2Z"));
  else
    CV_TRY(cufft_rc(cufftExecR2C(plan[1], (cufftReal *)real, (cufftComplex *)wf), "cufftExecR2C"));
  {
    const uint64_t total = (uint64_t)ny * (uint64_t)F;
    const unsigned grid = cv_cuda_grid(total, CV_CUDA_CONV_BLOCK, CV_CUDA_MAX_GRID);
    if (f64)
      cv_conv_fft_mul_k<cufftDoubleComplex, double><<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(
          (const cufftDoubleComplex *)xf, (const cufftDoubleComplex *)wf, (cufftDoubleComplex *)yf, g->c, g->cout, F,
          total);
    else
      cv_conv_fft_mul_k<cufftComplex, float><<<grid, CV_CUDA_CONV_BLOCK, 0, s>>>(
          (const cufftComplex *)xf, (const cufftComplex *)wf, (cufftComplex *)yf, g->c, g->cout, F, total);
    CV_CUDA_TRY(cudaGetLastError());
  }
  if (f64)
    CV_TRY(cufft_rc(cufftExecZ2D(plan[2], (cufftDoubleComplex *)yf, (cufftDoubleReal *)real), "cufftExecZ2D"));
  else
    CV_TRY(cufft_rc(cufftExecC2R(plan[2], (cufftComplex *)yf, (cufftReal *)real), "cufftExecC2R"));
  {   /* keep t = o·stride, scale by 1/P (cuFFT's inverse is unnormalised), bias, layout, dtype */
    cv_cuda_unpack_t u = {{P[0], P[1], P[2]}, {g->stride[0], g->stride[1], g->stride[2]}, 0, 1.0 / (double)Ptot};
    CV_TRY(cv_cuda_conv_unpack_y(g, &u, rt, real, job->b, job->y, s));
  }
fail:
  if (made[0] || made[1] || made[2]) (void)cudaStreamSynchronize(s);   /* plans' work areas are in use until then */
  for (int i = 0; i < 3; i++)
    if (made[i]) cufftDestroy(plan[i]);
  return rc;
}

#else

extern "C" int cv_cuda_conv_fft(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws) {
  (void)job;
  (void)ws;
  return -CV_EUNSUPPORTED_OP;
}

#endif

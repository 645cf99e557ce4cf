/* conv_fft.cuh — the conv candidate for large kernels: cuFFT R2C/C2R over
 * the padded input (any padding mode, materialised), PyTorch's
 * cross-correlation as X·conj(W) per frequency summed over input channels,
 * then stride sampling, scaling, bias and the job's layout and dtype.
 * groups 1; f64 computes in f64, the others in f32. Device worker only. */
#ifndef CV_CUDA_CONV_FFT_CUH
#define CV_CUDA_CONV_FFT_CUH

#include "conv.cuh"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 or -CV_E…; -CV_EUNSUPPORTED_OP when built without cuFFT. */
int cv_cuda_conv_fft(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws);

#ifdef __cplusplus
}
#endif

#endif

/* conv_cudnn.h — the cuDNN candidates of the conv menu, through cuDNN 9's
 * graph (backend) API: a CONVOLUTION_FORWARD operation graph in NDHWC
 * (x packed to channels-last, padded there when the padding mode is not
 * zeros; w to KRSC, flipped when asked), engine configs from heuristics
 * mode A, the first that finalises into an execution plan runs with a
 * variant pack. f16/bf16 on tensor cores with f32 accumulation; f32 skips
 * tensor-core (TF32) engines unless precision "tf32". And the depth-tap
 * decomposition: a 3-D conv with depth kernel kd as kd·N 2-D cuDNN convs
 * over depth slices, accumulated (beta 1) into one NHWC output.
 * Plain C; device worker only. Without cuDNN both return
 * -CV_EUNSUPPORTED_OP. */
#ifndef CV_CUDA_CONV_CUDNN_H
#define CV_CUDA_CONV_CUDNN_H

#include "conv.cuh"

#ifdef __cplusplus
extern "C" {
#endif

int cv_cuda_conv_cudnn(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws);
int cv_cuda_conv_depthtap(const cv_cuda_conv_job_t *job, cv_cuda_ws_t *ws);

#ifdef __cplusplus
}
#endif

#endif

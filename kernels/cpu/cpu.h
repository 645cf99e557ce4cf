/* cpu.h — the CPU backend's op entry points, called by backend_cpu.c.
 * Params are resolved by cv_op_infer; outputs are allocated by the caller
 * with infer's shapes and order. `threads` bounds the OpenMP threads the
 * call may use (1 = run on the calling thread only). */
#ifndef CV_CPU_H
#define CV_CPU_H

#include "../../proto/errors.h"
#include "../ops.h"

int cv_cpu_dwt(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out,
               int threads, cv_error_t *err);
int cv_cpu_idwt(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out,
                int threads, cv_error_t *err);
int cv_cpu_sepconv(const cv_sepconv_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out,
                   int n_out, int threads, cv_error_t *err);
int cv_cpu_conv(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out,
                int threads, cv_error_t *err);

/* Whether the CPU can run this conv as asked (a forced algo it lacks →
 * -CV_EINVALID_ARGUMENT, field "algo"). Pure; params resolved by infer. */
int cv_cpu_conv_check(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_error_t *err);

#endif

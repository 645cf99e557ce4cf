/* sepconv_f32.c — the float32 CPU sepconv (also complex64, as pairs of floats):
 * sepconv_tmpl.h stamped with float. float data accumulates in float with the
 * taps rounded to float, as PyTorch's float32 conv does. */
#define SC_T float
#define SC_EXEC cv__sepconv_exec_f32
#include "sepconv_tmpl.h"

/* sepconv_f64.c — the float64 CPU sepconv (also complex128 and every dtype
 * promoted to float64): sepconv_tmpl.h stamped with double. */
#define SC_T double
#define SC_EXEC cv__sepconv_exec_f64
#include "sepconv_tmpl.h"

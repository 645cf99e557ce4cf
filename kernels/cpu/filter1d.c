/* kernels/cpu/filter1d.c — placeholder until its owner writes it. */
typedef int cv_placeholder_t;

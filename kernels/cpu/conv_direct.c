/* kernels/cpu/conv_direct.c — placeholder until its owner writes it. */
typedef int cv_placeholder_t;

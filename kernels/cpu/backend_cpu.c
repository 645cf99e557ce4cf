/* kernels/cpu/backend_cpu.c — placeholder until its owner writes it. */
typedef int cv_placeholder_t;

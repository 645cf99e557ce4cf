/* proto/npz.c — placeholder until its owner writes it. */
typedef int cv_placeholder_t;

/* rand.h — unguessable 64-bit ids without a syscall per id: a thread-local
 * xoshiro256** seeded once per thread from getentropy (a forked child
 * reseeds). Any thread. */
#ifndef CV_RAND_H
#define CV_RAND_H

#include <stdint.h>

uint64_t cv_rand_u64(void);

#endif

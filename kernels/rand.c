/* rand.c — thread-local xoshiro256** (Blackman & Vigna), seeded from
 * getentropy on a thread's first call (splitmix64 of the clock and the
 * state's address when that fails); a forked child's thread (the one that
 * forked) reseeds, through a pthread_atfork handler. Any thread. */
#include "rand.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  uint64_t s[4];
  bool seeded;
} rng_t;

static _Thread_local rng_t tl_rng;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Runs in the child, on the thread that forked: its state is a copy of the
 * parent's, so it must not go on with the same sequence. */
static void child_reseed(void) { tl_rng.seeded = false; }

static void register_atfork(void) { pthread_atfork(NULL, NULL, child_reseed); }

static void seed(rng_t *r) {
  pthread_once(&atfork_once, register_atfork);
  if (getentropy(r->s, sizeof r->s) != 0) {   /* no entropy source: mix what differs */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)r;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
  }
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;   /* xoshiro needs a non-zero state */
  r->seeded = true;
}

uint64_t cv_rand_u64(void) {
  rng_t *r = &tl_rng;
  if (!r->seeded) seed(r);
  uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

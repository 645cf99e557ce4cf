/* crc32.c — see crc32.h. zlib takes lengths as uInt: it gets 1 GiB pieces. */
#include "crc32.h"

#ifdef CONVOY_HAVE_LIBDEFLATE
#include <libdeflate.h>

uint32_t cv_crc32(uint32_t crc, const void *p, size_t n) { return n ? libdeflate_crc32(crc, p, n) : crc; }
#else
#include <zlib.h>

uint32_t cv_crc32(uint32_t crc, const void *p, size_t n) {
  const unsigned char *b = p;
  uLong c = crc;
  while (n) {
    size_t k = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
    c = crc32(c, b, (uInt)k);
    b += k;
    n -= k;
  }
  return (uint32_t)c;
}
#endif

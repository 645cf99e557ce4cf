/* crc32.h — CRC-32 as zip and gzip use it, chainable like zlib's crc32
 * (start from 0, pass the previous value): libdeflate's folding
 * implementation when convoy is built with it (PCLMUL; 14 GB/s against
 * zlib's 4 here, which made a 64 MiB .npz answer miss 1 GB/s), else zlib.
 * Pure; any thread. */
#ifndef CV_CRC32_H
#define CV_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t cv_crc32(uint32_t crc, const void *p, size_t n);

#endif

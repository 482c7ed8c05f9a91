/*
** alloc.h: the library's allocator (see tbt_set_allocator) and the protobuf-c adapter over it.
*/
#ifndef TBT_ALLOC_H
#define TBT_ALLOC_H

#include <stddef.h>
#include "tbtrace.h"
#include <protobuf-c/protobuf-c.h>

void *tbt_malloc(size_t n);
void *tbt_calloc(size_t count, size_t size);   /* checks count * size for overflow */
void *tbt_realloc(void *p, size_t n);
/* tbt_strdup and tbt_free are public (tbtrace.h). */

/* zlib's allocation callbacks (z_stream.zalloc / zfree) over the library allocator. */
void *tbt_zalloc(void *opaque, unsigned items, unsigned size);
void tbt_zfree(void *opaque, void *p);

/* protobuf-c allocations (unpack, free_unpacked) routed through the library allocator. */
extern ProtobufCAllocator tbt_pb_allocator;
/* How many of the calling thread's tbt_pb_allocator allocations failed so far: an unpack that
** returns NULL while this grew ran out of memory rather than met bad bytes. */
unsigned long tbt_pb_alloc_failures(void);

#endif

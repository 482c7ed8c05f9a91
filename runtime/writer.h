/*
** writer.h: what the library asks of a writer beyond the public interface (writer.c).
*/
#ifndef TBT_WRITER_H
#define TBT_WRITER_H

#include "sink.h"
#include "tbtrace.h"

/* Writes one record of len bytes that fill(ud, sink) produces, without holding them: under the
** writer's lock, what is queued goes to the file first, then the record is streamed into it (the
** length and its masked CRC, the data with its masked CRC computed on the way). If fill fails,
** writes other than len bytes, or a write fails, the file is cut back to where the record began,
** so no torn record is ever left, and the code is returned (TBT_ERANGE for a wrong length). A
** no-op writer writes nothing and returns 0. The file is flushed but not fsynced, as a queue
** flush is. */
typedef int (*tbt_fill_fn)(void *ud, tbt_sink *out);
int tbt_writer_write_streamed(tbt_writer *w, uint64_t len, tbt_fill_fn fill, void *ud);

/* Writes an event's len bytes at dst, all of them and nothing past them. */
typedef void (*tbt_event_put)(uint8_t *dst, size_t len, const void *ud);

/* tbt_writer_write_event for an event that put encodes straight into the queue, under the
** writer's lock: the scalar path saves the copy through a buffer of its own. */
int tbt_writer_write_with(tbt_writer *w, size_t len, tbt_event_put put, const void *ud);

#endif

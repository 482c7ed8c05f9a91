/*
** utf8.h: UTF-8 validation. Protobuf string fields must hold valid UTF-8 or TensorBoard's reader
** rejects the whole event, so tags and descriptions are checked before they are written.
*/
#ifndef TBT_UTF8_H
#define TBT_UTF8_H

/* tbt_utf8_valid is public (tbtrace.h). */
#include "tbtrace.h"

#endif

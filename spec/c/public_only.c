/*
** public_only.c: compiled as the bindings are (linking the core and nothing else), it fails the
** build when the core's own or generated headers are on their include path.
*/
#include "tbtrace.h"

#if __has_include("alloc.h") || __has_include("trace_buffer.h") || __has_include("event.pb-c.h")
#error "what links the core sees more than its public headers"
#endif


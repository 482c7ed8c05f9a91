/* headers.c: every public header in a strict C11 program (compiled with -Wall -Wextra -Werror). */
#include <tbtrace.h>
#include <tbtrace_policy.h>
#include <tbtrace_trace.h>

int main(void) {
  TBT_SCOPE("scope");
  TBT_SPAN("span") tbt_instant("instant");
  return tbt_trace_is_on();
}

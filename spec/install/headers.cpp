// headers.cpp: every public header in a C++17 program (compiled with -Wall -Wextra -Werror).
#include <tbtrace.h>
#include <tbtrace_policy.h>
#include <tbtrace_trace.h>

int main() {
  TBT_SCOPE("scope");
  TBT_SPAN("span") tbt_instant("instant");
  tbt_writer *w = nullptr;
  return tbt_writer_open(&w, nullptr, nullptr) == 0 ? 1 : tbt_trace_is_on();
}

/*
** policy_check.h: `tbtrace policy check FILE [fact=value ...]`: loads an export policy as an
** export would (sandboxed, within its budgets), validates it, and prints what each hook decides
** for sample facts.
*/
#ifndef TBT_POLICY_CHECK_H
#define TBT_POLICY_CHECK_H

/* argv[0] is "policy". Returns 0 when the policy loads and decides, 1 when it fails (the message
** on stderr), 2 for usage errors. */
int tbt_policy_check_main(int argc, char **argv);

#endif

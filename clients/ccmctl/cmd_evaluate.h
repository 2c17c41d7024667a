/* cmd_evaluate — `ccmctl evaluate CASE.json|- [--fees DIR] [--json]`: evaluates
 * one patient-month offline (no broker) with lib/rules and prints the decision
 * and its evidence. A single case goes through ccm_rules_evaluate(); a case with
 * a top-level "history" object through ccm_rules_month(), as the services do.
 * Case format: lib/rules/README.md.
 * Link: ccm_rules_io ccm_tz_io ccm_rules PkgConfig::JANSSON. */
#ifndef CCMCTL_CMD_EVALUATE_H
#define CCMCTL_CMD_EVALUATE_H

#include <stdbool.h>

/* argv[0] is "evaluate"; the rest are its arguments. `json` selects JSON output
 * (a "--json" among the arguments does too). Fee directory: --fees DIR, else
 * $CCM_FEES_DIR, else CCM_FEES_DIR_DEFAULT.
 * Returns the process exit code: 0 evaluated (claim or not), 1 invalid case or
 * unreadable input/fees (message on stderr naming the field), 2 usage. */
int ccmctl_evaluate(int argc, char **argv, bool json);

#endif

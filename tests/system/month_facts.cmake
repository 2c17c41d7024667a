# Months judged by the facts in force during them (real broker, enrollment, careplan,
# timetrack, billing and ccmctl): the month table, and a seeded differential test of
# the live claims against `ccmctl evaluate` (CCM_DIFF_SEED=N replays a seed; time
# entries go through ccm-cdr).
add_test(NAME system_month_facts
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_month_facts.py ${PROJECT_BINARY_DIR})
add_test(NAME system_month_diff
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_month_diff.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_month_facts system_month_diff PROPERTIES TIMEOUT 900
                     LABELS "system;billing")

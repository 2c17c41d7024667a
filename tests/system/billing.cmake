# The whole stack closing months into claims (real processes).
add_test(NAME system_billing
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_billing.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_billing PROPERTIES TIMEOUT 900)

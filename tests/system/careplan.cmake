# Care plans end to end: broker, enrollment (patients) and careplan, driven by ccmctl.
add_test(NAME system_careplan
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_careplan.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_careplan PROPERTIES TIMEOUT 600)

# Phone-system import end to end: ccm-cdr -> broker -> timetrack (real processes).
add_test(NAME system_cdr
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_cdr.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_cdr PROPERTIES TIMEOUT 600)

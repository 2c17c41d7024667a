# Time tracking end to end (real broker, enrollment, timetrack and ccmctl).
add_test(NAME system_timetrack
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_timetrack.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_timetrack PROPERTIES TIMEOUT 600)

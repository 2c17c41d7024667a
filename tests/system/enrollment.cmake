# Enrollment end to end and crash durability (real broker, service and clients).
add_executable(pipeline_client ${CMAKE_CURRENT_LIST_DIR}/pipeline_client.c)
target_link_libraries(pipeline_client PRIVATE ccm ccm_warnings)

add_test(NAME system_enrollment
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_enrollment.py ${PROJECT_BINARY_DIR})
add_test(NAME system_durability
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_durability.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_enrollment system_durability PROPERTIES TIMEOUT 600)
add_test(NAME system_bad_input
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_bad_input.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_bad_input PROPERTIES TIMEOUT 600)

# Enrollment end to end and crash durability (real broker, service and clients).
add_executable(pipeline_client ${CMAKE_CURRENT_LIST_DIR}/pipeline_client.c)
target_link_libraries(pipeline_client PRIVATE ccm ccm_warnings)

add_test(NAME system_enrollment
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_enrollment.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_enrollment PROPERTIES TIMEOUT 600)
# The crash-durability run (10,000 pipelined registrations, SIGKILLs) is about
# delivery, not memory: it runs in the default build. Under the sanitizers the
# service answers a 256-request batch in seconds on busy cores, the pipelining
# client's 1 s timeouts turn that into a resend storm, and the run cannot reach
# its first kill point; memory errors on these paths are covered by the other
# system tests, which the sanitizer build runs.
if(NOT CCM_SANITIZE)
  add_test(NAME system_durability
           COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_durability.py ${PROJECT_BINARY_DIR})
  set_tests_properties(system_durability PROPERTIES TIMEOUT 600)
endif()
add_test(NAME system_bad_input
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_bad_input.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_bad_input PROPERTIES TIMEOUT 600)

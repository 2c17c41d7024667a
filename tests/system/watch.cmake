# ccm-watch against the real services: the enrollment group (enrollment only) and
# the billing group (claims in every format, replacement, kill during a close).
add_test(NAME system_watch_enrollment
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_watch.py ${PROJECT_BINARY_DIR}
                 enrollment)
set_tests_properties(system_watch_enrollment PROPERTIES TIMEOUT 600)
add_test(NAME system_watch_billing
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_watch.py ${PROJECT_BINARY_DIR} billing)
set_tests_properties(system_watch_billing PROPERTIES TIMEOUT 600)

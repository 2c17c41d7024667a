# ccm-watch against the real services. The enrollment group needs only enrollment;
# the billing group (claims in every format, replacement, kill during a close) is
# registered once the billing service exists.
if(NOT TARGET ccm-watch OR NOT TARGET ccm-enrollment)
  return()
endif()
add_test(NAME system_watch_enrollment
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_watch.py ${PROJECT_BINARY_DIR}
                 enrollment)
set_tests_properties(system_watch_enrollment PROPERTIES TIMEOUT 300)
if(TARGET ccm-billing AND TARGET ccm-careplan AND TARGET ccm-timetrack)
  add_test(NAME system_watch_billing
           COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_watch.py ${PROJECT_BINARY_DIR}
                   billing)
  set_tests_properties(system_watch_billing PROPERTIES TIMEOUT 600)
endif()

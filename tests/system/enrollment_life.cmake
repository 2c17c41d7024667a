# A patient's CCM life end to end: practitioners and staff, eligibility events,
# consent, visits, other services, inpatient stays, worklist (real broker, service
# and ccmctl).
add_test(NAME system_enrollment_life
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_enrollment_life.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_enrollment_life PROPERTIES TIMEOUT 600)

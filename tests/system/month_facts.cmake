# Months judged by the facts in force during them (real broker, enrollment, careplan,
# timetrack, billing and ccmctl).
if(NOT TARGET ccm-billing OR NOT TARGET ccm-careplan OR NOT TARGET ccm-timetrack)
  return()
endif()
add_test(NAME system_month_facts
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_month_facts.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_month_facts PROPERTIES TIMEOUT 300 LABELS "system;billing")

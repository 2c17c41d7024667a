# Fuzz target of the billing request path; replays its corpus as a test.
add_executable(fuzz_billing ${CMAKE_CURRENT_LIST_DIR}/fuzz_billing.c
                            ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_compile_definitions(fuzz_billing PRIVATE
  CCM_FEES_DIR_DEFAULT="${PROJECT_SOURCE_DIR}/deploy/fees")
target_link_libraries(fuzz_billing PRIVATE ccm_billing ccm_warnings)
add_test(NAME fuzz_billing COMMAND fuzz_billing ${CMAKE_CURRENT_LIST_DIR}/corpus/billing)

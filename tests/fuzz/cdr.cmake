# Fuzz target of ccm-cdr's parsers: every format, the CSV splitter, dates, mapping.
add_executable(fuzz_cdr ${CMAKE_CURRENT_LIST_DIR}/fuzz_cdr.c
                        ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_cdr PRIVATE ccm_cdr ccm_warnings)
add_test(NAME fuzz_cdr COMMAND fuzz_cdr ${CMAKE_CURRENT_LIST_DIR}/corpus/cdr)

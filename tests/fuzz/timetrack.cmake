# Fuzz target of the timetrack request path; replays its corpus as a test.
add_executable(fuzz_timetrack ${CMAKE_CURRENT_LIST_DIR}/fuzz_timetrack.c
                              ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_compile_definitions(fuzz_timetrack PRIVATE
  CCM_FEES_DIR_DEFAULT="${PROJECT_SOURCE_DIR}/deploy/fees")
target_link_libraries(fuzz_timetrack PRIVATE ccm_timetrack ccm_warnings)
add_test(NAME fuzz_timetrack COMMAND fuzz_timetrack ${CMAKE_CURRENT_LIST_DIR}/corpus/timetrack)

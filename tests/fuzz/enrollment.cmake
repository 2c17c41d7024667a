# Fuzz targets of the service request path and the config parser; each replays its
# corpus as a test (tests/fuzz/replay_main.c).
add_executable(fuzz_enrollment ${CMAKE_CURRENT_LIST_DIR}/fuzz_enrollment.c
                               ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_enrollment PRIVATE ccm_enrollment ccm_warnings)
add_test(NAME fuzz_enrollment COMMAND fuzz_enrollment ${CMAKE_CURRENT_LIST_DIR}/corpus/enrollment)

add_executable(fuzz_config ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c
                           ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_config PRIVATE ccm ccm_warnings)
add_test(NAME fuzz_config COMMAND fuzz_config ${CMAKE_CURRENT_LIST_DIR}/corpus/config)

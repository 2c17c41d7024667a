# Fuzz target of the CURVE key-file readers and the allow-list loader (lib/auth.c).
add_executable(fuzz_keys ${CMAKE_CURRENT_LIST_DIR}/fuzz_keys.c ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_keys PRIVATE ccm ccm_warnings)
add_test(NAME fuzz_keys COMMAND fuzz_keys ${CMAKE_CURRENT_LIST_DIR}/corpus/keys)

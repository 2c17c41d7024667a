# Fuzz target of the careplan request path (and the review check); replays its
# corpus as a test (tests/fuzz/replay_main.c). Seeds: make_careplan_corpus.py.
add_executable(fuzz_careplan ${CMAKE_CURRENT_LIST_DIR}/fuzz_careplan.c
                             ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_careplan PRIVATE ccm_careplan ccm_warnings)
add_test(NAME fuzz_careplan COMMAND fuzz_careplan ${CMAKE_CURRENT_LIST_DIR}/corpus/careplan)

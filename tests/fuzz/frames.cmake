# Fuzz target of the 7/MDP frame parsers; replays its corpus as a test.
add_executable(fuzz_frames ${CMAKE_CURRENT_LIST_DIR}/fuzz_frames.c
                           ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_frames PRIVATE ccm)
add_test(NAME fuzz_frames COMMAND fuzz_frames ${CMAKE_CURRENT_LIST_DIR}/corpus/frames)

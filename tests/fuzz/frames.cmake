# Fuzz target of the 7/MDP frame parsers and builders. By default it replays its
# seed corpus as a test (replay_main.c); with clang and -DCCM_LIBFUZZER=ON it links
# libFuzzer instead: ./fuzz_frames tests/fuzz/corpus/frames
if(CCM_LIBFUZZER AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  # wire.c compiled in here too, so libFuzzer sees its coverage
  add_executable(fuzz_frames ${CMAKE_CURRENT_LIST_DIR}/fuzz_frames.c
                             ${PROJECT_SOURCE_DIR}/lib/wire.c)
  target_compile_options(fuzz_frames PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_frames PRIVATE -fsanitize=fuzzer)
else()
  add_executable(fuzz_frames ${CMAKE_CURRENT_LIST_DIR}/fuzz_frames.c
                             ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
  add_test(NAME fuzz_frames COMMAND fuzz_frames ${CMAKE_CURRENT_LIST_DIR}/corpus/frames)
endif()
target_link_libraries(fuzz_frames PRIVATE ccm ccm_warnings)

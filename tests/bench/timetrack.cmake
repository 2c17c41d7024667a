# Overlap index of timetrack (services/timetrack/overlap.c): bench_overlap prints
# µs per add and void for five shapes of a performer's history; its --check mode
# (a randomised comparison with a brute-force model) is the only part CTest runs.
add_executable(bench_overlap ${CMAKE_CURRENT_LIST_DIR}/bench_overlap.c)
target_link_libraries(bench_overlap PRIVATE ccm_timetrack ccm_warnings)
add_test(NAME timetrack_overlap_check COMMAND bench_overlap --check)

# Store benchmark: durable group-commit batches of small puts, append-ordered vs
# random keys. Built, never registered as a test: run build/tests/bench/bench_store.
add_executable(bench_store ${CMAKE_CURRENT_LIST_DIR}/bench_store.c)
target_link_libraries(bench_store PRIVATE ccm ccm_warnings)

# bench_rules: evaluates 1,000,000 generated patient-months with lib/rules and
# prints patient-months per second (target >= 1,000,000/s on one core).
add_executable(bench_rules ${CMAKE_CURRENT_LIST_DIR}/bench_rules.c)
target_link_libraries(bench_rules PRIVATE ccm_rules_io ccm_tz_io ccm_warnings)
target_compile_definitions(bench_rules PRIVATE
  CCM_FEES_DIR_DEFAULT="${PROJECT_SOURCE_DIR}/deploy/fees")

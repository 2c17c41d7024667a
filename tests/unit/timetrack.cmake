# The timetrack handlers through the worker host, without sockets: entries and
# their corrections, overlaps, month status, thresholds, forecast.
ccm_unit_test(test_timetrack ${CMAKE_CURRENT_LIST_DIR}/test_timetrack.c LIBS ccm_timetrack)
target_compile_definitions(test_timetrack PRIVATE
  CCM_FEES_DIR_DEFAULT="${PROJECT_SOURCE_DIR}/deploy/fees")

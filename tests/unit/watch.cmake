# ccm-watch: the pure renderers (JSON, CSV, X12 837P, FHIR) on hand-built claims,
# the delivery module (directory and exec), and an independent X12 check of a
# rendered 837P with npm's node-x12 (tests/x12; `npm ci` there installs it).
ccm_unit_test(test_render ${CMAKE_CURRENT_LIST_DIR}/test_render.c LIBS ccm_render)
ccm_unit_test(test_render_output ${CMAKE_CURRENT_LIST_DIR}/test_render_output.c
              LIBS ccm_output)

add_executable(test_render_sample ${CMAKE_CURRENT_LIST_DIR}/test_render_sample.c)
target_link_libraries(test_render_sample PRIVATE ccm_render ccm_warnings)
find_program(CCM_NODE NAMES node nodejs)
set(x12_dir ${PROJECT_SOURCE_DIR}/tests/x12)
set(x12_out ${CMAKE_CURRENT_BINARY_DIR}/x12)
if(CCM_NODE)
  # Exit 77 (skipped) from check837.js when node-x12 is not installed.
  add_test(NAME x12_node_parse_837p
           COMMAND sh -c "mkdir -p '${x12_out}' && '$<TARGET_FILE:test_render_sample>' \
'${x12_out}/original.x12' '${x12_out}/replacement.x12' && \
'${CCM_NODE}' '${x12_dir}/check837.js' '${x12_out}/original.x12' 1 && \
'${CCM_NODE}' '${x12_dir}/check837.js' '${x12_out}/replacement.x12' 7")
else()
  add_test(NAME x12_node_parse_837p
           COMMAND sh -c "echo 'SKIP: node (Node.js) not found at configure time; install \
nodejs and npm, run npm ci in tests/x12, re-run cmake'; exit 77")
endif()
set_tests_properties(x12_node_parse_837p PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)

# ccm-cdr: parsers, mapping, outbox and reader, the sender against a fake broker,
# and the binary end to end against a fake timetrack (tests/data/cdr samples).
set(CCM_CDR_DATA_DEF CCM_CDR_DATA="${PROJECT_SOURCE_DIR}/tests/data/cdr")
ccm_unit_test(test_cdr_parse ${CMAKE_CURRENT_LIST_DIR}/test_cdr_parse.c LIBS ccm_cdr)
ccm_unit_test(test_cdr_map ${CMAKE_CURRENT_LIST_DIR}/test_cdr_map.c LIBS ccm_cdr)
target_compile_definitions(test_cdr_map PRIVATE ${CCM_CDR_DATA_DEF})
ccm_unit_test(test_cdr_outbox ${CMAKE_CURRENT_LIST_DIR}/test_cdr_outbox.c LIBS ccm_cdr)
target_compile_definitions(test_cdr_outbox PRIVATE ${CCM_CDR_DATA_DEF})
ccm_unit_test(test_cdr_send ${CMAKE_CURRENT_LIST_DIR}/test_cdr_send.c LIBS ccm_cdr)
target_compile_definitions(test_cdr_send PRIVATE ${CCM_CDR_DATA_DEF}
                           CCM_CDR_BIN="$<TARGET_FILE:ccm-cdr>")
add_dependencies(test_cdr_send ccm-cdr)

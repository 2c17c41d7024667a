# The careplan handlers, enrollment follower and review check through the worker
# host, without sockets.
ccm_unit_test(test_careplan ${CMAKE_CURRENT_LIST_DIR}/test_careplan.c LIBS ccm_careplan)
